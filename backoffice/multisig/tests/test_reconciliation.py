"""Reconciliation on anvil, against a token and multisigs of this test's own (deployed with plain web3
and attached, so no other test's history is on them): everything the product does reconciles; a
mint made with the owners' keys outside the product is flagged within one watcher run, with the
alert's banner, its e-mail to the managers and a manager's acknowledgement."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from eth_account import Account
from eth_typing import HexStr
from rest_framework.test import APIClient

from backoffice.accounts.models import Notification
from backoffice.accounts.notifications import notification_mail_send
from backoffice.chain.client import artifact, chain_client
from backoffice.chain.devkeys import OFFICER_INDEXES, OWNER_INDEXES, dev_account
from backoffice.chain.services import deployment_attach
from backoffice.chain.watcher import chain_index_step
from backoffice.core.errors import InvalidInput
from backoffice.journal.models import JournalEntry
from backoffice.journal.services import TransitionRefused
from backoffice.multisig.kinds import safe_tx_of
from backoffice.multisig.models import MultisigRole, ReconciliationAlert, TxState
from backoffice.multisig.reconciliation import alert_acknowledge, reconciliation_compute, reconciliation_run
from backoffice.multisig.services import multisig_transaction_propose
from backoffice.multisig.tests.helpers import chain_index_until_head, consent_and_execute, issue_propose

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("chain", ["usdkg"], indirect=True)]

User = get_user_model()
OWNERS = ["owner1", "owner2", "owner3"]
OFFICERS = [f"officer{n}" for n in range(1, 6)]


@pytest.fixture
def fresh(chain: Any) -> Any:
    """A token and two USDKG multisigs with no history, recorded as the deployment (chain_attach)."""
    w3 = chain_client().w3

    def deploy(name: str, *args: Any) -> str:
        data = artifact(name)
        tx_hash = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"]).constructor(*args).transact(
            {"from": w3.eth.accounts[0]})
        return str(w3.eth.wait_for_transaction_receipt(tx_hash)["contractAddress"])

    issuance = deploy("USDKGMultisig", [dev_account(i).address for i in OWNER_INDEXES], 3)
    compliance = deploy("USDKGMultisig", [dev_account(i).address for i in OFFICER_INDEXES], 5)
    return deployment_attach(client=chain_client(), token=deploy("USDKG", issuance, compliance), replace=True)


def _manager() -> Any:
    manager = User.objects.get(username="manager")
    manager.email = "manager@example.test"
    manager.save(update_fields=["email"])
    return manager


def test_everything_the_product_does_reconciles(fresh: Any, gold_backing: Any) -> None:
    from compliance import services as compliance
    from compliance.tests.factories import case_for, officer

    client, holder = chain_client(), dev_account(15).address
    assert consent_and_execute(issue_propose(9_000_000, holder), OWNERS).state == TxState.EXECUTED
    assert consent_and_execute(issue_propose(2_000_000, fresh.issuance_multisig), OWNERS).state == TxState.EXECUTED
    tx = multisig_transaction_propose(client=client, multisig=MultisigRole.ISSUANCE, to=fresh.token,
                                      data=client.token_calldata("redeem", 1_500_000), decoded={"function": "redeem"},
                                      actor=User.objects.get(username="operator"))
    assert consent_and_execute(tx, OWNERS).state == TxState.EXECUTED
    case = case_for(holder)
    for action, extra in (("blacklist", {}), ("destroy_funds", {"confirm_amount": "9"})):
        proposal = compliance.compliance_proposal_create(client=client, case_id=case.pk, action=action,
                                                         actor=officer(1), **extra)
        assert consent_and_execute(proposal.transaction, OFFICERS).state == TxState.EXECUTED
    chain_index_until_head()

    report = reconciliation_compute(client=client)
    assert report.ok, report.as_dict()
    assert [c.name for c in report.checks] == [
        "total supply equals issued - redeemed - destroyed", "compliance multisig owners and threshold",
        "issuance multisig owners and threshold", "supply within the audited reserve / collateral ratio",
        "reserve value covers the supply at least at the coverage floor",
        "frozen-address register equals isBlackListed on chain"]
    assert report.checks[0].actual == {"supply": "500000"}  # 9 + 2 - 1.5 issued/redeemed, 9 destroyed
    assert reconciliation_run(client=client)[1] == [] and not ReconciliationAlert.objects.exists()
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "everything reconciles" in out.getvalue()
    api = APIClient()
    api.force_authenticate(_manager())
    body = api.get("/api/reconciliation/").json()
    assert (body["ok"], body["block"], body["unauthorised_events"]) == (True, report.block, [])
    assert {c["name"] for c in body["checks"]} == {c.name for c in report.checks}


def test_a_mint_outside_the_product_is_flagged_within_one_watcher_run(
    fresh: Any, gold_backing: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client, manager = chain_client(), _manager()
    chain_index_until_head()
    # Three owners approve and execute an issue with their own keys, without the back-office.
    tx = issue_propose(7_000_000, Account.create().address)
    tx.delete()  # the product never had it: only the calldata is reused
    safe_tx = safe_tx_of(tx)
    w3 = client.w3
    approve = client.usdkg_approve_data(multisig=tx.safe_address, tx=safe_tx, safe_tx_hash=tx.safe_tx_hash)
    for i in OWNER_INDEXES[:3]:
        w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
            {"from": dev_account(i).address, "to": tx.safe_address, "data": HexStr("0x" + approve.hex())}))
    execute = client.usdkg_exec_data(multisig=tx.safe_address, tx=safe_tx)
    mint = w3.eth.send_transaction({"from": dev_account(OWNER_INDEXES[0]).address, "to": tx.safe_address,
                                    "data": HexStr("0x" + execute.hex())})
    w3.eth.wait_for_transaction_receipt(mint)

    with django_capture_on_commit_callbacks(execute=True):
        step = chain_index_step(client=client, max_blocks=5000)  # one watcher run
    assert step.to_block == client.block_number()
    alert = ReconciliationAlert.objects.get(kind="unauthorised_event")
    assert alert.detail["event"] == "Issue" and alert.detail["tx_hash"] == "0x" + bytes(mint).hex()
    assert alert.detail["args"]["amount"] == "7000000"
    assert JournalEntry.objects.filter(action="reconciliation.alert", object_id=str(alert.pk)).exists()
    # The managers are notified with the alert (one mechanism, backoffice.accounts.notifications); the
    # worker mails them after commit: here the test plays the worker.
    notice = Notification.objects.get(kind="alert", user=manager)
    assert mail.outbox == [] and notification_mail_send(notification_id=notice.pk)
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["manager@example.test"]
    assert "Unauthorised Issue" in mail.outbox[0].subject

    # Every staff user sees the banner until a manager acknowledges it with a reason.
    for username in ("operator", "owner1", "manager"):
        browser = Client()
        browser.force_login(User.objects.get(username=username))
        assert 'id="reconciliation-banner"' in browser.get("/admin/").content.decode()
    report = reconciliation_compute(client=client)
    assert not report.ok and [e["event"] for e in report.unauthorised_events] == ["Issue"]
    with pytest.raises(CommandError, match="does not reconcile"):
        call_command("reconcile", stdout=StringIO())
    assert ReconciliationAlert.objects.count() == 1  # the same finding is not raised twice
    entries = JournalEntry.objects.count()
    with pytest.raises(TransitionRefused, match="only a manager"):
        alert_acknowledge(alert_id=alert.pk, reason="looks fine", actor=User.objects.get(username="operator"))
    with pytest.raises(InvalidInput, match="reason"):
        alert_acknowledge(alert_id=alert.pk, reason="  ", actor=manager)
    alert.refresh_from_db()
    assert alert.acknowledged_at is None and JournalEntry.objects.count() == entries
    browser = Client()
    browser.force_login(manager)
    response = browser.post(f"/reconciliation/alerts/{alert.pk}/acknowledge/",
                            {"reason": "test mint by the owners, reported to the auditor"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by == manager and alert.acknowledged_reason.startswith("test mint")
    assert JournalEntry.objects.filter(action="reconciliation.alert_acknowledged").exists()
    assert 'id="reconciliation-banner"' not in browser.get("/admin/").content.decode()
