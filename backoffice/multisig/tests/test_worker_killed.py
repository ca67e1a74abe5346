"""A worker killed (SIGKILL) after it stored the raw transaction and before the node got it.

The killed worker reaches the node through a JSON-RPC proxy this test runs on loopback: the proxy
forwards every call to anvil except `eth_sendRawTransaction`, which it holds and never forwards; the
test kills the worker's whole process group the moment that call arrives. The session's worker then
takes over (the sweep re-queues the transaction) and must land the stored bytes exactly once.
"""

import json
import os
import signal
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from eth_account import Account

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import MultisigRole, MultisigTransaction, TxState
from backoffice.multisig.services import confirmation_add, multisig_transaction_propose, safe_tx_of
from backoffice.multisig.tasks import multisig_sweep_task
from backoffice.multisig.tests.helpers import tx_wait
from conftest import celery_worker_process

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


class _HoldingProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.send_seen = threading.Event()
        self.release = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _HoldingProxy

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        calls = json.loads(body)
        methods = {c["method"] for c in (calls if isinstance(calls, list) else [calls])}
        if "eth_sendRawTransaction" in methods:
            self.server.send_seen.set()
            self.server.release.wait(timeout=30)  # held: the node never sees this transaction
            return
        request = urllib.request.Request(self.server.upstream, data=body,  # noqa: S310 - loopback anvil
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = response.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        return


def test_a_worker_killed_between_storing_and_sending_lands_the_transaction_exactly_once(
    chain, gold_backing, celery_worker, settings, tmp_path
):
    from backoffice.celery import app

    client, token = chain_client(), deployment_get().token
    supply, relayer_nonce = client.token_total_supply(token), client.account_nonce(relayer_account().address)
    users = get_user_model().objects
    tx = multisig_transaction_propose(
        client=client, multisig=MultisigRole.ISSUANCE, to=token,
        data=client.token_calldata("issue", dev_account(18).address, 9_000_000),
        decoded={"function": "issue", "to": dev_account(18).address, "amount": "9000000"},
        actor=users.get(username="operator"))
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)

    proxy = _HoldingProxy(settings.CHAIN_RPC_URL)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    app.control.cancel_consumer(queue, destination=[celery_worker], reply=True)  # the doomed worker alone
    try:
        doomed_name = f"doomed-{os.getpid()}@localhost"
        with celery_worker_process(chain, tmp_path, name=doomed_name,
                                   rpc_url=f"http://127.0.0.1:{proxy.server_address[1]}") as doomed:
            for n in (1, 2, 3):  # the third signature approves and queues the broadcast
                signature = Account.sign_typed_data(dev_account(OWNER_INDEXES[n - 1]).key, full_message=typed)
                confirmation_add(client=client, transaction_id=tx.pk, signature=signature.signature,
                                 actor=users.get(username=f"owner{n}"))
            assert proxy.send_seen.wait(timeout=60), "the doomed worker never tried to send"
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=10)
        stored = MultisigTransaction.objects.get(pk=tx.pk)
        assert stored.state == TxState.BROADCASTING and stored.relayer_tx_hash
        assert client.receipt(stored.relayer_tx_hash) is None  # the node never got it
        assert client.account_nonce(relayer_account().address) == relayer_nonce
    finally:
        proxy.release.set()
        proxy.shutdown()
        app.control.add_consumer(queue, destination=[celery_worker], reply=True)

    multisig_sweep_task.delay()  # what beat does every 30 s: the restarted worker picks it up
    done = tx_wait(tx.pk, {TxState.EXECUTED, TxState.FAILED})
    assert done.state == TxState.EXECUTED, done.failure_reason
    assert (done.relayer_tx_hash, bytes(done.relayer_raw_tx or b"")) == (
        stored.relayer_tx_hash, bytes(stored.relayer_raw_tx or b""))
    assert client.token_total_supply(token) == supply + 9_000_000
    assert client.account_nonce(relayer_account().address) == relayer_nonce + 1
    broadcasts = JournalEntry.objects.filter(object_id=str(tx.pk), action="multisig.multisigtransaction.broadcast")
    assert broadcasts.count() == 1
