"""The compliance flow in a real browser: an officer opens a case in the admin and proposes blacklist, destroy
funds and unblacklist from the case page; the five officers, each in a browser of their own, sign every proposal
with the development wallet; the Celery worker executes each on anvil, and the register and the token agree."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.db import transaction
from playwright.sync_api import Browser, Locator, Page, expect

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OFFICER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.tests.browser import EXECUTED_LABEL, log_in
from compliance.models import Case, ComplianceProposal, FrozenAddress
from issuance.tests.factories import issue_on_chain

from .factories import transfer_from

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

HOLDER_INDEX = 13  # an unlocked anvil account no other test sends from
HOLDER = dev_account(HOLDER_INDEX).address
OTHER = dev_account(14).address  # only ever receives
AMOUNT = 750_000_000  # 750 tokens in base units
OFFICERS = (1, 2, 3, 4, 5)
EXECUTION_TIMEOUT_MS = 60_000  # the real worker broadcasts and follows the receipt


def _issue(amount: int) -> None:
    """`issue_on_chain` broadcasts in this process. Its last signature also schedules the broadcast task on
    commit, and here (a transactional test with a live worker) the worker would run it at the same moment: a
    race that can mark the executed issue failed ("simulation failed: GS026"). Inside one atomic block the task
    is only queued once the issue has settled, and the worker then finds nothing left to do."""
    with transaction.atomic():
        issue_on_chain(amount=amount, recipient=HOLDER)


def _noun(kind: str) -> str:
    return "signatures" if kind == "safe" else "approvals"


def _propose(page: Page, base_url: str, case: Case, action: str, *, kind: str, confirm: str | None = None) -> str:
    """On the case page, propose `action` and follow the new proposal's link to its signing page."""
    change_path = f"/admin/compliance/case/{case.pk}/change/"
    page.goto(f"{base_url}{change_path}")
    page.click(f"#propose-{action.replace('_', '-')}")
    page.wait_for_url(f"{base_url}/admin/compliance/case/{case.pk}/propose/{action}/")
    if confirm is not None:
        page.fill("#id_confirm_amount", confirm)
    page.click("#propose-form input[type=submit]")
    page.wait_for_url(f"{base_url}{change_path}")
    expect(page.locator(".messagelist")).to_contain_text("All five officers sign it on its signing page.")
    proposal = ComplianceProposal.objects.select_related("transaction").get(case=case, action=action)
    assert (proposal.address, proposal.transaction.state, proposal.transaction.threshold) == (
        HOLDER, TxState.AWAITING_SIGNATURES, 5)
    signing_path = f"/multisig/{proposal.transaction_id}/"
    row = page.locator("tr.proposal-row", has=page.locator(f'a.signing-link[href="{signing_path}"]'))
    expect(row.locator(".proposal-status")).to_have_text(re.compile(r"^Awaiting \d+ more approvals?$"))
    expect(row).to_contain_text("0 of 5")
    row.locator("a.signing-link").click()
    page.wait_for_url(f"{base_url}{signing_path}")
    expect(page.locator("#tx-state")).to_have_attribute("data-state", "awaiting_signatures")
    expect(page.locator("#tx-progress")).to_have_text(f"0 of 5 {_noun(kind)}")
    return signing_path


def _five_sign(officer_pages: list[Page], base_url: str, signing_path: str, *, kind: str,
               shots: Path | None = None) -> str:
    """Each officer consents on the signing page: signs (Safe) or sends approveHash (USDKG multisig);
    four leave it waiting, the fifth gets it executed (by the relayer, or by the fifth officer's
    execTransaction). Returns the executing transaction's hash shown on the page."""
    noun = _noun(kind)
    for number, officer_page in enumerate(officer_pages, start=1):
        officer_page.goto(f"{base_url}{signing_path}")
        expect(officer_page.locator("#dev-wallet-notice")).to_be_visible()
        expect(officer_page.locator("#tx-state")).to_have_attribute("data-state", "awaiting_signatures")
        expect(officer_page.locator("#tx-progress")).to_have_text(f"{number - 1} of 5 {noun}")
        if kind == "safe":
            officer_page.click("#sign-button")
            expect(officer_page.locator("#sign-result")).to_contain_text(f"Signature accepted: {number} of 5.")
            expect(officer_page.locator("#sign-button")).to_be_hidden()
        else:
            officer_page.click("#approve-button")
            if number < 5:  # counted once the watcher saw it on chain (the fifth redraws the page at once)
                expect(officer_page.locator("#sign-result")).to_contain_text("Sent 0x")
                expect(officer_page.locator("#tx-progress")).to_have_text(f"{number} of 5 {noun}", timeout=30_000)
        expect(officer_page.locator("#sign-error")).to_be_hidden()
        if number == 4:
            # Four of five never execute: the page, the database and the chain all still wait for the fifth.
            expect(officer_page.locator("#tx-progress")).to_have_text(f"4 of 5 {noun}")
            officer_page.reload()
            expect(officer_page.locator("#tx-state")).to_have_attribute("data-state", "awaiting_signatures")
            expect(officer_page.locator("#tx-progress")).to_have_text(f"4 of 5 {noun}")
            expect(officer_page.locator("#relayer-row")).to_be_hidden()
            tx = MultisigTransaction.objects.get(pk=int(signing_path.strip("/").rsplit("/", 1)[-1]))
            assert (tx.state, tx.relayer_tx_hash, tx.confirmations.count()) == (TxState.AWAITING_SIGNATURES, "", 4)
            if shots is not None:
                officer_page.screenshot(path=shots / "4-of-5.png", full_page=True)
    last = officer_pages[-1]
    if kind == "usdkg":
        # The fifth approval seen on chain: the fifth officer's page offers the execution.
        expect(last.locator("#execute-button")).to_be_visible(timeout=60_000)  # a loaded machine: watcher + redraw
        last.click("#execute-button")
    expect(last.locator("#tx-state")).to_have_text(EXECUTED_LABEL, timeout=EXECUTION_TIMEOUT_MS)
    expect(last.locator("#relayer-tx-hash")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))
    expect(last.locator("#tx-progress")).to_have_text(f"5 of 5 {noun}")
    return last.locator("#relayer-tx-hash").inner_text()


def _executed(signing_path: str, relayer_tx_hash: str) -> MultisigTransaction:
    tx = MultisigTransaction.objects.get(pk=int(signing_path.strip("/").rsplit("/", 1)[-1]))
    assert tx.state == TxState.EXECUTED, tx.failure_reason
    assert tx.relayer_tx_hash == relayer_tx_hash
    assert {c.owner_address for c in tx.confirmations.all()} == {dev_account(i).address for i in OFFICER_INDEXES}
    return tx


def _register_row(page: Page, base_url: str, tx: MultisigTransaction) -> Locator:
    """The register page once the worker's after-execution hook has recorded `tx` (it runs just after the
    transaction is marked executed, so the page is reloaded until it shows)."""
    deadline = time.monotonic() + 30
    while not FrozenAddress.objects.filter(address=HOLDER, last_transaction=tx, checked_block__gte=tx.block_number
                                           ).exists():
        assert time.monotonic() < deadline, "the register was not refreshed after execution"
        time.sleep(0.5)
    page.goto(f"{base_url}/compliance/register/")
    return page.locator(f'#register tr.register-row[data-address="{HOLDER}"]')


@pytest.mark.parametrize("chain", ["safe", "usdkg"], indirect=True)
def test_officers_blacklist_destroy_and_unblacklist_an_address_in_the_browser(
    live_server, browser: Browser, page: Page, chain, gold_backing, celery_worker, settings, tmp_path: Path
):
    settings.DEBUG, settings.CHAIN_IS_LOCAL = True, True  # the development wallet signs for the officers
    client, token = chain_client(), deployment_get().token
    base = live_server.url
    assert not client.token_is_blacklisted(token, HOLDER)
    _issue(AMOUNT)
    assert client.token_balance(token, HOLDER) == AMOUNT

    # officer1 opens a case for the holder in the admin.
    log_in(page, base, "officer1", "/admin/compliance/case/add/")
    page.fill("#id_address", HOLDER)
    page.select_option("#id_category", "court_order")
    page.fill("#id_reference", "CO-2025-0413")
    page.fill("#id_description", "Freeze order of the district court (browser test).")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/admin/compliance/case/\d+/change/$"))
    case = Case.objects.get()
    assert (case.address, case.category, case.reference, case.state, case.opened_by.username) == (
        HOLDER, "court_order", "CO-2025-0413", "open", "officer1")
    expect(page.locator(".messagelist")).to_contain_text(f"Case {case.pk} opened.")
    expect(page.locator("#case-proposals")).to_contain_text("No proposal yet.")
    page.screenshot(path=tmp_path / "1-case.png", full_page=True)

    # Five officers, each in a browser of their own.
    officer_pages = []
    for number in OFFICERS:
        officer_page = browser.new_context().new_page()
        officer_page.set_default_timeout(15_000)
        log_in(officer_page, base, f"officer{number}", "/admin/")
        officer_pages.append(officer_page)

    try:
        # --- blacklist -----------------------------------------------------------------------
        kind = chain.kind
        signing_path = _propose(page, base, case, "blacklist", kind=kind)
        expect(page.locator("#tx-function")).to_have_text("addBlackList")
        relayer_hash = _five_sign(officer_pages, base, signing_path, kind=kind, shots=tmp_path)
        expect(page.locator("#tx-state")).to_have_text(EXECUTED_LABEL, timeout=EXECUTION_TIMEOUT_MS)  # officer1 follows
        expect(page.locator("#relayer-tx-hash")).to_have_text(relayer_hash)
        page.screenshot(path=tmp_path / "2-blacklist-executed.png", full_page=True)
        blacklist_tx = _executed(signing_path, relayer_hash)
        receipt = client.receipt(relayer_hash)
        assert receipt is not None and receipt["status"] == 1
        assert client.events(contract_name="USDKG", address=token, event="AddedBlackList",
                             receipt=receipt) == [{"_user": HOLDER}]

        row = _register_row(page, base, blacklist_tx)
        expect(row).to_have_count(1)
        expect(row).not_to_have_class(re.compile(r"\bmismatch\b"))
        expect(row.locator("td").nth(1)).to_have_text("agrees")
        expect(row.locator("td").nth(2)).to_have_text("yes")  # expected blacklisted
        expect(row.locator("td").nth(3)).to_have_text("yes")  # blacklisted on chain
        expect(row.locator("td").nth(4)).to_have_text("750.000000")
        expect(page.locator("#mismatch-count")).to_have_count(0)
        page.screenshot(path=tmp_path / "3-register-blacklisted.png", full_page=True)
        assert client.token_is_blacklisted(token, HOLDER)
        with pytest.raises(Exception, match="blacklisted"):
            transfer_from(HOLDER, OTHER, 1)
        assert client.token_balance(token, HOLDER) == AMOUNT

        # --- destroy funds: the balance shown is typed to confirm --------------------------------
        supply_before, balance = client.token_total_supply(token), client.token_balance(token, HOLDER)
        page.goto(f"{base}/admin/compliance/case/{case.pk}/propose/destroy_funds/")
        expect(page.locator("#on-chain-balance")).to_have_text("750.000000")
        signing_path = _propose(page, base, case, "destroy_funds", kind=kind, confirm="750")
        expect(page.locator("#tx-function")).to_have_text("destroyBlackFunds")
        expect(page.locator("#tx-amount")).to_have_text("750.000000")
        relayer_hash = _five_sign(officer_pages, base, signing_path, kind=kind)
        expect(page.locator("#tx-state")).to_have_text(EXECUTED_LABEL, timeout=EXECUTION_TIMEOUT_MS)
        page.screenshot(path=tmp_path / "4-destroy-executed.png", full_page=True)
        _executed(signing_path, relayer_hash)
        assert client.token_balance(token, HOLDER) == 0
        assert client.token_total_supply(token) == supply_before - balance
        receipt = client.receipt(relayer_hash)
        assert receipt is not None and receipt["status"] == 1
        assert client.events(contract_name="USDKG", address=token, event="DestroyedBlackFunds",
                             receipt=receipt) == [{"_blackListedUser": HOLDER, "_balance": AMOUNT}]
        assert client.token_is_blacklisted(token, HOLDER)  # destroying keeps the address frozen

        # --- unblacklist -----------------------------------------------------------------------
        signing_path = _propose(page, base, case, "unblacklist", kind=kind)
        expect(page.locator("#tx-function")).to_have_text("removeBlackList")
        relayer_hash = _five_sign(officer_pages, base, signing_path, kind=kind)
        expect(page.locator("#tx-state")).to_have_text(EXECUTED_LABEL, timeout=EXECUTION_TIMEOUT_MS)
        unblacklist_tx = _executed(signing_path, relayer_hash)
        assert not client.token_is_blacklisted(token, HOLDER)

        row = _register_row(page, base, unblacklist_tx)
        expect(row).not_to_have_class(re.compile(r"\bmismatch\b"))
        expect(row.locator("td").nth(1)).to_have_text("agrees")
        expect(row.locator("td").nth(2)).to_have_text("no")
        expect(row.locator("td").nth(3)).to_have_text("no")
        expect(row.locator("td").nth(4)).to_have_text("0.000000")
        page.screenshot(path=tmp_path / "5-register-unblacklisted.png", full_page=True)

        page.goto(f"{base}/admin/compliance/case/{case.pk}/change/")
        expect(page.locator("tr.proposal-row")).to_have_count(3)
        executed = re.compile(r"^Executed in block \d+$")
        expect(page.locator("tr.proposal-row .proposal-status")).to_have_text([executed] * 3)
        expect(page.locator("tr.proposal-row .burn-amount")).to_have_text("750.000000")
        page.screenshot(path=tmp_path / "6-case-done.png", full_page=True)
    finally:
        for officer_page in officer_pages:
            officer_page.context.close()

    # Sending works again once unblacklisted.
    _issue(1_000_000)
    other_before = client.token_balance(token, OTHER)
    assert transfer_from(HOLDER, OTHER, 1)["status"] == 1
    assert client.token_balance(token, HOLDER) == 1_000_000 - 1
    assert client.token_balance(token, OTHER) == other_before + 1
