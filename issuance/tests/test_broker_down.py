"""A broker that is down when the work is handed to it never turns a committed success into an error:
the request answers success, what it stored stays stored, a warning says what was not queued, and the
sweep sends the work once the broker is back.

Transactional tests on PostgreSQL, so the on-commit callbacks really run inside the request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice.accounts.roles import Role
from backoffice.celery import app
from backoffice.multisig.models import Confirmation, MultisigTransaction, TxState
from backoffice.multisig.tasks import multisig_sweep_task
from backoffice.multisig.tests.helpers import tx_wait
from conftest import _free_port
from issuance.models import Bar, BarListImport, ImportState, Vault

from .factories import bar_csv, deposit_make, user_with_role
from .test_proposals_api import proposed, sign

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _producers_reset() -> None:
    # The app keeps its connection and producer pools; dropped, they are rebuilt from the write URL.
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_refusing() -> Iterator[None]:
    """This process publishes to a local port where nothing listens (connections are refused); the
    worker, a process of its own, keeps consuming from the real broker."""
    port = _free_port()
    # Celery reads CELERY_BROKER_WRITE_URL from the environment before its settings.
    os.environ["CELERY_BROKER_WRITE_URL"] = f"redis://127.0.0.1:{port}/0"
    _producers_reset()
    try:
        assert (app.connection_for_write().hostname, app.connection_for_write().port) == ("127.0.0.1", port)
        yield
    finally:
        del os.environ["CELERY_BROKER_WRITE_URL"]
        _producers_reset()


def _not_queued(caplog: pytest.LogCaptureFixture, task: str, pk: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "backoffice.core.tasks" and r.levelno == logging.WARNING
            and f"task={task} args=[{pk}] queued=false reason=broker-unreachable" in r.getMessage()]


def test_the_final_signature_with_the_broker_down_is_accepted_and_the_sweep_sends_it_later(
    chain: Any, gold_backing: Any, celery_worker: str, caplog: pytest.LogCaptureFixture
) -> None:
    proposal = proposed(gold_backing, amount="10")
    for owner in (1, 2):
        assert sign(proposal["id"], owner).status_code == 201

    with broker_refusing(), caplog.at_level(logging.WARNING, logger="backoffice.core.tasks"):
        response = sign(proposal["id"], 3)

    assert response.status_code == 201, response.content
    assert response.json()["state"] == "approved"
    tx = MultisigTransaction.objects.get(pk=proposal["transaction"]["id"])
    assert tx.state == TxState.APPROVED
    assert sorted(Confirmation.objects.filter(transaction=tx).values_list("signer__user__username", flat=True)) == [
        "owner1", "owner2", "owner3"]
    assert _not_queued(caplog, "backoffice.multisig.tasks.multisig_transaction_broadcast_task", tx.pk), caplog.text

    # The broker is back: the periodic sweep re-queues the approved transaction and the worker sends it.
    assert multisig_sweep_task() == 1
    assert tx_wait(tx.pk, {TxState.EXECUTED, TxState.FAILED}).state == TxState.EXECUTED


def test_a_bar_list_uploaded_with_the_broker_down_is_stored_and_stays_queued(
    client: Any, roles: None, caplog: pytest.LogCaptureFixture
) -> None:
    operator = user_with_role(Role.OPERATOR, username="operator-upload")
    vault = Vault.objects.create(name="Broker-down vault", location="Zurich")
    deposit = deposit_make(operator=operator, vault=vault, reference="BD-1",
                           csv=bar_csv([("BD0001", "400.000", "999.9", "")]))
    client.force_login(operator)
    rows = bar_csv([("BD0002", "400.000", "999.9", ""), ("BD0003", "401.000", "999.9", "")])

    with broker_refusing(), caplog.at_level(logging.WARNING, logger="backoffice.core.tasks"):
        response = client.post(f"/admin/issuance/deposit/{deposit.pk}/upload/",
                               {"file": SimpleUploadedFile("bars.csv", rows.encode()), "replace": "on"})

    job = BarListImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/issuance/barlistimport/{job.pk}/change/"
    assert (job.state, job.deposit_id, job.created_by) == (ImportState.QUEUED, deposit.pk, operator)
    assert job.file.read() == rows.encode()
    assert list(Bar.objects.filter(deposit=deposit).values_list("serial", flat=True)) == ["BD0001"]
    assert _not_queued(caplog, "issuance.tasks.bar_list_import_task", job.pk), caplog.text
