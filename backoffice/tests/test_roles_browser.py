"""Each role's day in a real browser (Debian's chromium), on the production multisig kind: every user
signs in, lands on the admin home and reaches their main task by clicks only (no URL typed; the only
address followed is the link of a notification e-mail). The owner and the officer start from the inbox
entry of the proposal they were notified about, read from the mail outbox. Each home page is saved under
var/screenshots/ (not committed)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import mail
from eth_account import Account
from playwright.sync_api import expect

from backoffice.accounts.models import MailStatus, Notification
from backoffice.accounts.notifications import notification_mail_send
from backoffice.accounts.tests.mfa import browser_second_factor
from backoffice.chain.client import chain_client
from backoffice.multisig.models import Confirmation, TxState
from backoffice.multisig.tests.helpers import chain_index_until_head, consent_and_execute
from conftest import TEST_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration,
              pytest.mark.parametrize("chain", ["usdkg"], indirect=True)]

User = get_user_model()
SCREENSHOTS = Path(django_settings.VAR_DIR) / "screenshots"


@pytest.fixture
def day(live_server: Any, settings: Any, private_queue: str) -> str:
    """The live server as the demo runs it: the development wallet signs for owners and officers (DEBUG,
    local chain), mails link back to this server. This test's Celery messages go to a queue no worker
    takes: the test sends the mails itself (into the locmem outbox) and runs the chain watcher's step."""
    settings.DEBUG, settings.CHAIN_IS_LOCAL, settings.SITE_URL = True, True, live_server.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(live_server.url)


def _home(page: Any, base: str, username: str) -> None:
    """Sign in on the login page and land on the admin home; its screenshot is kept."""
    page.set_default_timeout(20_000)
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    browser_second_factor(page, username)
    page.wait_for_url(f"{base}/admin/")
    expect(page.locator("#inbox")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / f"home-{username}.png", full_page=True)


def _mailed_link(username: str, reference: str) -> str:
    """Send what the worker would (pending notifications), then the link of `username`'s mail about
    `reference`: exactly one such mail."""
    pending = Notification.objects.filter(mail_status=MailStatus.PENDING).values_list("pk", flat=True)
    for notification_id in pending:
        notification_mail_send(notification_id=notification_id)
    email = User.objects.get(username=username).email
    mails = [m for m in mail.outbox if email in m.to and reference in m.subject]
    assert len(mails) == 1, [(m.to, m.subject) for m in mail.outbox]
    found = re.search(r"https?://\S+", str(mails[0].body))
    assert found is not None, mails[0].body
    return found.group(0)


def _from_inbox_to_approval(page: Any, base: str, username: str, reference: str, link: str) -> None:
    """The inbox entry of the proposal in the mail (its link and the entry lead to the same page), then
    the approval sent on chain by the wallet."""
    _home(page, base, username)
    entry = page.locator(f'#inbox tr.inbox-action[data-reference="{reference}"]')
    expect(entry).to_contain_text("head of the queue")
    assert entry.locator("a").get_attribute("href") == urlparse(link).path
    entry.locator("a").click()
    page.wait_for_url(link)
    page.click("#approve-button")
    expect(page.locator("#sign-result")).to_contain_text("Sent 0x")
    chain_index_until_head()  # the worker's watcher step: the approval is counted from the chain


def test_an_owner_goes_from_the_notified_inbox_entry_to_an_on_chain_approval(day: str, page: Any, chain: Any,
                                                                            gold_backing: Any) -> None:
    from issuance.services.proposals import proposal_draft, proposal_propose

    operator = User.objects.get(username="operator")
    draft = proposal_draft(client=chain_client(), kind="issue", actor=operator, amount="25",
                           recipient=Account.create().address, deposit_ids=[gold_backing.pk],
                           memo="Role test: backed by the audited test deposit.")
    tx = proposal_propose(client=chain_client(), proposal_id=draft.pk, actor=operator).transaction
    assert tx is not None
    link = _mailed_link("owner1", tx.reference)

    _from_inbox_to_approval(page, day, "owner1", tx.reference, link)
    expect(page.locator("#tx-progress")).to_have_text("1 of 3 approvals", timeout=30_000)
    assert Confirmation.objects.filter(transaction=tx, signer__user__username="owner1",
                                       event__isnull=False).count() == 1


def test_an_officer_goes_from_the_notified_inbox_entry_to_an_on_chain_approval(day: str, page: Any,
                                                                              chain: Any) -> None:
    from compliance import services as compliance
    from compliance.tests.factories import case_for, officer

    case = case_for(Account.create().address)
    proposal = compliance.compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                                     actor=officer(1))
    link = _mailed_link("officer2", proposal.reference)

    _from_inbox_to_approval(page, day, "officer2", proposal.reference, link)
    expect(page.locator("#tx-progress")).to_have_text("1 of 5 approvals", timeout=30_000)
    assert Confirmation.objects.filter(transaction=proposal.transaction, signer__user__username="officer2",
                                       event__isnull=False).count() == 1


def test_an_operator_drafts_and_proposes_an_issue_from_the_home_page(day: str, page: Any, chain: Any,
                                                                     gold_backing: Any) -> None:
    from issuance.models import OwnerProposal, ProposalState

    recipient = Account.create().address
    _home(page, day, "operator")
    page.click('a[href="/admin/issuance/ownerproposal/add/"]')
    page.select_option("#id_kind", "issue")
    page.fill("#id_amount", "1,234.5")  # as people write amounts
    page.fill("#id_recipient", recipient)
    page.locator("#id_deposits label", has_text=gold_backing.reference).locator("input").check()
    page.fill("#id_memo", "Role test: backed by the audited test deposit.")
    page.click("#save-and-propose")
    proposal = OwnerProposal.objects.get(recipient=recipient)
    expect(page.locator("#signing-page-link")).to_be_visible()
    assert (proposal.state, proposal.amount) == (ProposalState.PROPOSED, 1_234_500_000)
    assert proposal.transaction is not None and proposal.transaction.state == TxState.AWAITING_SIGNATURES
    page.click("#signing-page-link")
    page.wait_for_url(f"{day}/multisig/{proposal.transaction.pk}/")
    expect(page.locator("body")).to_contain_text(proposal.reference)


def test_a_custodian_confirms_the_weights_of_a_received_deposit_from_the_inbox(day: str, page: Any,
                                                                              chain: Any) -> None:
    from issuance import services
    from issuance.models import DepositState, Vault
    from issuance.tests.factories import bar_csv, deposit_make, upload

    operator, custodian = User.objects.get(username="operator"), User.objects.get(username="custodian")
    vault = Vault.objects.create(name="Role-test vault", location="Zurich")
    deposit = deposit_make(operator=operator, vault=vault, reference="DEP-ROLE-1",
                           csv=bar_csv([("RB0001", "400.000", "999.9", ""), ("RB0002", "401.250", "999.9", "")]))
    services.deposit_receive(deposit_id=deposit.pk, receipt=upload("DEP-ROLE-1.pdf", b"%PDF receipt"),
                             actor=custodian)

    _home(page, day, "custodian")
    entry = page.locator('#inbox tr[data-reference="DEP-ROLE-1"]')
    expect(entry).to_contain_text("Confirm weights and assay")
    entry.locator("a").click()
    page.click("button[name=_fsm_transition_to][value=verify]")
    expect(page.locator("#transition-confirmation")).to_be_visible()  # irreversible: it says what happens
    page.click("#transition-form input[type=submit]")
    expect(page.locator(".messagelist")).to_be_visible()
    deposit.refresh_from_db()
    assert deposit.state == DepositState.VERIFIED


def test_an_auditor_accepts_a_submitted_audit_from_the_inbox(day: str, page: Any, chain: Any) -> None:
    from issuance.models import AuditState, Vault
    from issuance.tests.factories import audit_submitted, bar_csv, deposit_verified

    operator, custodian, auditor = (User.objects.get(username=n) for n in ("operator", "custodian", "auditor"))
    vault = Vault.objects.create(name="Audited role-test vault", location="London")
    rows = [("RA0001", "400.000", "999.9", "")]
    deposit_verified(operator=operator, custodian=custodian, vault=vault, reference="DEP-ROLE-2", csv=bar_csv(rows))
    audit = audit_submitted(operator=operator, auditor=auditor, vault=vault, counts_csv=bar_csv(rows))

    _home(page, day, "auditor")
    entry = page.locator("#inbox tr.inbox-audit", has_text=str(vault))
    expect(entry).to_contain_text("Accept or dispute")
    entry.locator("a").click()
    page.click("button[name=_fsm_transition_to][value=accept]")
    expect(page.locator("#transition-confirmation")).to_be_visible()
    page.click("#transition-form input[type=submit]")
    expect(page.locator(".messagelist")).to_be_visible()
    audit.refresh_from_db()
    assert audit.state == AuditState.ACCEPTED


def test_a_manager_reads_an_addresss_history_and_exports_it(day: str, page: Any, chain: Any,
                                                             gold_backing: Any) -> None:
    from issuance.services.proposals import proposal_draft, proposal_propose

    holder, operator = Account.create().address, User.objects.get(username="operator")
    draft = proposal_draft(client=chain_client(), kind="issue", actor=operator, amount="7", recipient=holder,
                           deposit_ids=[gold_backing.pk])
    tx = proposal_propose(client=chain_client(), proposal_id=draft.pk, actor=operator).transaction
    assert tx is not None
    assert consent_and_execute(tx, ["owner1", "owner2", "owner3"]).state == TxState.EXECUTED
    tx.refresh_from_db()
    chain_index_until_head()

    _home(page, day, "manager")
    page.click("#history-link")
    page.fill("#timeline-search input[name=address]", holder.lower())  # any letter case finds it
    page.click("#timeline-search button[type=submit]")
    page.wait_for_url(f"{day}/history/address/{holder}/")
    expect(page.locator("#timeline-items")).to_contain_text(draft.reference)
    with page.expect_download() as download:
        page.click("#timeline-export")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert any(r["kind"] == "execution" and r["tx_hash"] == tx.relayer_tx_hash for r in rows)
