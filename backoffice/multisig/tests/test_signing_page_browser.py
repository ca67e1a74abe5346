"""The signing page in a real browser: it lists every wallet that announces itself (EIP-6963) and signs with
the one chosen; its state and its queue stay current while the real worker executes; and what an issuance
and a compliance signer read (saved as screenshots under var/screenshots/)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from eth_account import Account
from playwright.sync_api import expect

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.tests.browser import EXECUTED_LABEL, log_in, owners_consent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"
RECIPIENT = dev_account(18).address
TEST_WALLET = "Test Wallet 6963"

# A wallet that only announces itself (EIP-6963) and never touches window.ethereum: it forwards every request
# to the development wallet (which installs window.ethereum later, from the page's head) and keeps a log of
# the methods it was asked, so the test knows the chosen wallet is the one that signed.
ANNOUNCING_WALLET = """
(() => {
  window.__testWalletCalls = [];
  const provider = {
    request: (args) => { window.__testWalletCalls.push(args.method); return window.ethereum.request(args); },
    on() { return this; }, removeListener() { return this; },
  };
  const info = Object.freeze({uuid: "0c9f8a52-52a1-4b8e-9d58-d6cbf0a7e3a1", name: "TEST_WALLET_NAME",
    rdns: "test.wallet",
    icon: "data:image/svg+xml;base64," + btoa('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8">' +
      '<rect width="8" height="8" fill="#36c"/></svg>')});
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
    {detail: Object.freeze({info, provider})}));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
""".replace("TEST_WALLET_NAME", TEST_WALLET)


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def _issue(memo: str) -> MultisigTransaction:
    from issuance.models import Deposit
    from issuance.services.proposals import proposal_draft, proposal_propose

    operator, deposit = _user("operator"), Deposit.objects.get()
    proposal = proposal_draft(client=chain_client(), kind="issue", actor=operator, amount="100", recipient=RECIPIENT,
                              deposit_ids=[deposit.pk], memo=memo)
    proposal = proposal_propose(client=chain_client(), proposal_id=proposal.pk, actor=operator)
    assert proposal.transaction is not None
    return proposal.transaction


def test_announced_wallets_are_listed_and_the_state_and_queue_follow_the_worker(
    live_server, browser, page, chain, gold_backing, celery_worker, settings
):
    settings.DEBUG, settings.CHAIN_IS_LOCAL = True, True  # the development wallet signs for the owners
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    first, second = _issue("First issue: the memo owners read"), _issue("Second issue, waiting behind the first")
    assert (first.nonce, second.nonce) == (second.nonce - 1, second.nonce)

    # owner4's browser has a wallet that announces itself by name, besides the development wallet.
    context = browser.new_context()
    context.add_init_script(ANNOUNCING_WALLET)
    watcher = context.new_page()
    watcher.set_default_timeout(20_000)
    log_in(watcher, base, "owner4", f"/multisig/{second.pk}/")
    options = watcher.locator("#wallet-list .wallet-option")
    expect(options).to_have_count(2)
    expect(watcher.locator("#wallet-status")).to_contain_text("2 wallets found: choose")
    announced = options.filter(has_text=TEST_WALLET)
    expect(announced).to_have_count(1)
    expect(announced.locator("img")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    expect(options.filter(has_text="USDKG development wallet")).to_have_count(1)
    # With two wallets and none chosen, the page asks instead of guessing.
    watcher.click("#sign-button")
    expect(watcher.locator("#sign-error")).to_contain_text("choose the one to sign with")
    assert watcher.evaluate("window.__testWalletCalls") == []

    announced.click()
    expect(announced).to_have_attribute("aria-pressed", "true")
    expect(watcher.locator("#wallet-status")).to_have_text(f"Signing with {TEST_WALLET}.")
    watcher.click("#sign-button")
    expect(watcher.locator("#sign-result")).to_contain_text("Signature accepted: 1 of 3.")
    assert "eth_signTypedData_v4" in watcher.evaluate("window.__testWalletCalls")
    expect(watcher.locator("#tx-state")).to_have_text("Awaiting 2 more approvals")
    # Its queue: the first issue at the head, then this one.
    rows = watcher.locator("#queue-rows tr")
    expect(rows).to_have_count(2)
    expect(watcher.locator(f'#queue-rows tr[data-tx="{first.pk}"]')).to_contain_text("Awaiting 3 more approvals")

    # The operator follows the first issue; three owners sign it; the worker executes it.
    log_in(page, base, "operator", f"/multisig/{first.pk}/")
    expect(page.locator("#tx-state")).to_have_text("Awaiting 3 more approvals")
    expect(page.locator("#tx-state")).to_have_attribute("data-state", "awaiting_signatures")
    expect(page.locator("#tx-reference")).to_have_text(first.reference)
    expect(page.locator("#proposal-memo")).to_have_text("First issue: the memo owners read")
    owner_pages = owners_consent(browser, base, f"/multisig/{first.pk}/", ["owner1", "owner2", "owner3"],
                                 kind="safe")

    # Every open page follows the worker within its polling interval: the state as people say it, the
    # confirmations with names, and the queue without the executed transaction.
    for following in (page, owner_pages[-1]):
        expect(following.locator("#tx-state")).to_have_text(EXECUTED_LABEL, timeout=60_000)
        expect(following.locator("#tx-state")).to_have_attribute("data-state", "executed")
        expect(following.locator(f'#queue-rows tr[data-tx="{first.pk}"]')).to_have_count(0)
        expect(following.locator(f'#queue-rows tr[data-tx="{second.pk}"]')).to_have_count(1)
        expect(following.locator("#signed-by li")).to_have_text([re.compile(rf"^owner{n} 0x") for n in (1, 2, 3)])
    # What the last signer was told is a fact that stays true ("3 of 3"), never a state that goes stale.
    expect(owner_pages[-1].locator("#sign-result")).to_have_text("Signature accepted: 3 of 3.")
    expect(watcher.locator(f'#queue-rows tr[data-tx="{first.pk}"]')).to_have_count(0, timeout=10_000)
    expect(watcher.locator("#queue-rows tr")).to_have_count(1)
    first.refresh_from_db()
    assert first.state == TxState.EXECUTED, first.failure_reason
    expect(page.locator("#tx-state")).to_have_text(f"Executed in block {first.block_number}")
    page.screenshot(path=SCREENSHOTS / "signing-issuance.png", full_page=True)
    for other in owner_pages:
        other.context.close()
    context.close()


def test_a_compliance_signer_sees_the_case_and_the_address_on_chain(live_server, page, chain, settings):
    from compliance.services import case_open, compliance_proposal_create

    settings.DEBUG, settings.CHAIN_IS_LOCAL = True, True
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    address = Account.create().address
    case = case_open(address=address, category="sanctions", reference="OFAC-SDN-2026-0042",
                     description="Listed on the OFAC SDN list on 2026-11-02.", actor=_user("officer1"))
    proposal = compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                          actor=_user("officer1"))
    log_in(page, live_server.url, "officer2", f"/multisig/{proposal.transaction.pk}/")
    expect(page.locator("h1")).to_contain_text(proposal.reference)
    expect(page.locator("#case-reference")).to_have_text("OFAC-SDN-2026-0042")
    expect(page.locator("#address-balance")).to_have_text("0.000000")
    expect(page.locator("#address-blacklisted")).to_have_attribute("data-blacklisted", "false")
    expect(page.locator("#message-hash")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))
    expect(page.locator("#tx-state")).to_have_text("Awaiting 5 more approvals")
    page.screenshot(path=SCREENSHOTS / "signing-compliance.png", full_page=True)
