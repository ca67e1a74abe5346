"""The executor on the USDKG multisig, with real Celery workers on a queue of this test's own: the
worker executes an approved transaction exactly once even when it was stopped between the last
approval and the execution; a worker whose executor key is bound to a signer refuses to start."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from eth_account import Account
from web3 import Web3

from backoffice.chain.client import artifact, chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import MultisigTransaction, Signer, TxState
from backoffice.multisig.tasks import multisig_sweep_task, multisig_transaction_broadcast_task
from backoffice.multisig.tests.helpers import chain_index_until_head as index
from backoffice.multisig.tests.helpers import issue_propose, tx_wait
from backoffice.multisig.tests.test_usdkg_kind import approve
from conftest import ROOT, celery_worker_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration,
              pytest.mark.parametrize("chain", ["usdkg"], indirect=True)]

EXECUTOR = dev_account(OWNER_INDEXES[6])  # owner7's PUBLIC anvil key: unbound from its user in these tests


@pytest.fixture
def executor_key(tmp_path: Path) -> Path:
    path = tmp_path / "executor.key"
    path.write_text("# anvil PUBLIC test key, tests only\n" + EXECUTOR.key.hex() + "\n")
    path.chmod(0o600)
    return path


def _executions(tx: MultisigTransaction) -> list[Any]:
    """ExecutionSuccess logs of the multisig for this safeTxHash, read from the chain itself."""
    w3 = chain_client().w3
    event = w3.eth.contract(address=Web3.to_checksum_address(tx.safe_address),
                            abi=artifact("USDKGMultisig")["abi"]).events.ExecutionSuccess
    logs = event().get_logs(from_block=deployment_get().block_number)
    return [log for log in logs if "0x" + bytes(log["args"]["txHash"]).hex() == tx.safe_tx_hash]


def test_a_worker_stopped_between_the_last_approval_and_execution_executes_once_when_started_again(
    chain: Any, gold_backing: Any, executor_key: Path, private_queue: str, tmp_path: Path
) -> None:
    Signer.objects.filter(address=EXECUTOR.address).delete()
    client, recipient = chain_client(), Account.create().address
    tx = issue_propose(1_000_000, recipient)
    approve(tx, 1, 2, 3)
    index()  # the threshold is seen: approved, and the executor's task is queued ... for no running worker
    tx.refresh_from_db()
    assert tx.state == TxState.APPROVED
    multisig_transaction_broadcast_task.delay(tx.pk)  # a duplicate message, as a redelivery would make
    time.sleep(2)
    assert MultisigTransaction.objects.get(pk=tx.pk).state == TxState.APPROVED
    assert client.safe_nonce(tx.safe_address) == tx.nonce and _executions(tx) == []

    env = {"MULTISIG_EXECUTOR_KEY_FILE": str(executor_key)}
    with celery_worker_process(chain, tmp_path, name=f"executor-{uuid.uuid4().hex[:6]}@localhost", queue=private_queue,
                               extra_env=env):
        multisig_sweep_task.delay()  # and the sweep's re-queue on top
        done = tx_wait(tx.pk, {TxState.EXECUTED, TxState.FAILED}, timeout=60)
    assert done.state == TxState.EXECUTED, done.failure_reason
    assert done.relayer_address == EXECUTOR.address  # the executor, an owner, sent it
    assert len(_executions(tx)) == 1 and client.safe_nonce(tx.safe_address) == tx.nonce + 1
    assert client.token_balance(deployment_get().token, recipient) == 1_000_000
    with override_settings(MULTISIG_EXECUTOR_KEY_FILE=str(executor_key)):
        index()  # the watcher sees the execution the worker already settled: nothing changes
    assert MultisigTransaction.objects.get(pk=tx.pk).state == TxState.EXECUTED


def test_a_worker_whose_executor_key_is_bound_to_a_signer_refuses_to_start(
    chain: Any, executor_key: Path, tmp_path: Path
) -> None:
    assert Signer.objects.filter(address=EXECUTOR.address).exists()  # owner7 still signs with it
    from django.db import connection

    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CHAIN_RPC_URL": settings.CHAIN_RPC_URL,
           "CHAIN_ID": str(settings.CHAIN_ID), "MULTISIG_EXECUTOR_KEY_FILE": str(executor_key)}
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "celery"), "-A", "backoffice", "worker", "-Q", f"never-{uuid.uuid4().hex}",
         "--concurrency=1", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert f"{EXECUTOR.address} is bound to the signer owner7" in result.stdout + result.stderr
    check = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "manage.py", "check"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode != 0 and "multisig.E001" in check.stderr
