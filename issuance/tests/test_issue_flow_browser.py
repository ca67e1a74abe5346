"""The issue flow in a real browser: the operator drafts and proposes in the admin, three owners sign on
the signing page with the development wallet, the Celery worker executes it on anvil."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import expect

from backoffice.accounts.tests.mfa import browser_second_factor
from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.tests.browser import EXECUTED_LABEL, owners_consent
from conftest import TEST_PASSWORD
from issuance.models import OwnerProposal, ProposalBacking, ProposalState

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

RECIPIENT = dev_account(17).address
AMOUNT = 1_234_500_000  # 1,234.5 tokens in base units


def _log_in(page, base_url: str, username: str, next_path: str) -> None:
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    browser_second_factor(page, username)
    page.wait_for_url(f"{base_url}{next_path}")


def _fill_issue(page, *, amount: str, deposit_reference: str) -> None:
    page.select_option("#id_kind", "issue")
    page.fill("#id_amount", amount)
    page.fill("#id_recipient", RECIPIENT)
    page.locator("#id_deposits label", has_text=deposit_reference).locator("input").check()
    page.fill("#id_memo", "Browser test: backed by the audited test deposit.")


@pytest.mark.parametrize("chain", ["safe", "usdkg"], indirect=True)
def test_an_operator_proposes_an_issue_and_three_owners_sign_it_in_the_browser(
    live_server, browser, page, chain, gold_backing, celery_worker, settings, tmp_path
):
    settings.DEBUG, settings.CHAIN_IS_LOCAL = True, True  # the development wallet signs for the owners
    client, d = chain_client(), deployment_get()
    supply, balance = client.token_total_supply(d.token), client.token_balance(d.token, RECIPIENT)
    base = live_server.url

    # The operator drafts the issue in the admin; a refused amount is a form error and saves nothing.
    _log_in(page, base, "operator", "/admin/issuance/ownerproposal/add/")
    _fill_issue(page, amount="1234.5000001", deposit_reference=gold_backing.reference)
    page.click("input[name=_save]")
    expect(page.locator("#id_amount_error, .errorlist").first).to_contain_text("has more than 6 decimals")
    page.screenshot(path=tmp_path / "1-refused-amount.png", full_page=True)
    assert not OwnerProposal.objects.exists()

    _fill_issue(page, amount="1234.5", deposit_reference=gold_backing.reference)
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/issuance/ownerproposal/\d+/change/$"))
    proposal = OwnerProposal.objects.get()
    assert (proposal.kind, proposal.amount, proposal.recipient, proposal.state) == (
        "issue", AMOUNT, RECIPIENT, ProposalState.DRAFT)
    assert list(ProposalBacking.objects.values_list("deposit_id", "amount")) == [(gold_backing.pk, AMOUNT)]

    expect(page.locator("button[name=_fsm_transition_to][value=cancel]")).to_have_text("Cancel proposal")
    page.screenshot(path=tmp_path / "2-draft.png", full_page=True)
    page.click("button[name=_fsm_transition_to][value=propose]")
    # Proposing cannot be undone: a page says what the owners will be asked, and only its button proposes.
    expect(page.locator("#transition-confirmation")).to_contain_text(
        f"Propose {proposal.reference} to the owners: issue 1,234.500000 USDKG to {RECIPIENT};")
    assert OwnerProposal.objects.get().state == ProposalState.DRAFT
    page.click("#transition-form input[type=submit]")
    expect(page.locator("#signing-page-link")).to_be_visible()
    page.screenshot(path=tmp_path / "2-proposed.png", full_page=True)
    page.click("#signing-page-link")
    proposal.refresh_from_db()
    tx = proposal.transaction
    assert tx is not None
    signing_path = f"/multisig/{tx.pk}/"
    page.wait_for_url(f"{base}{signing_path}")
    expect(page.locator("#tx-amount")).to_have_text("1,234.500000")
    expect(page.locator("#tx-recipient")).to_have_text(RECIPIENT)
    expect(page.locator("#tx-backing")).to_contain_text(gold_backing.reference)
    noun = "signatures" if chain.kind == "safe" else "approvals"
    expect(page.locator("#tx-progress")).to_have_text(f"0 of 3 {noun}")
    expect(page.locator("#sign-button, #approve-button")).to_have_count(0)  # operators follow, owners consent

    # Three owners, each in a browser of their own, consent with the development wallet: they sign
    # (Safe) or send approveHash (USDKG multisig, whose last approver then sends execTransaction).
    owner_pages = owners_consent(browser, base, signing_path, ["owner1", "owner2", "owner3"], kind=chain.kind)
    owner_pages[0].screenshot(path=tmp_path / "3-owner1-consented.png", full_page=True)

    # The worker puts it on chain; every open page follows it there.
    for watching in (page, owner_pages[-1]):
        expect(watching.locator("#tx-state")).to_have_text(EXECUTED_LABEL, timeout=60_000)
        expect(watching.locator("#relayer-tx-hash")).to_have_text(re.compile(r"^0x[0-9a-f]{64}$"))
    expect(page.locator("#tx-progress")).to_have_text(f"3 of 3 {noun}")
    page.screenshot(path=tmp_path / "4-executed.png", full_page=True)
    for owner_page in owner_pages:
        owner_page.context.close()

    tx = MultisigTransaction.objects.get(pk=tx.pk)
    assert tx.state == TxState.EXECUTED, tx.failure_reason
    assert page.locator("#relayer-tx-hash").inner_text() == tx.relayer_tx_hash
    assert page.locator("#block-number").inner_text() == str(tx.block_number)
    assert {c.owner_address for c in tx.confirmations.all()} == {dev_account(i).address for i in OWNER_INDEXES[:3]}
    assert client.token_total_supply(d.token) == supply + AMOUNT
    assert client.token_balance(d.token, RECIPIENT) == balance + AMOUNT
    receipt = client.receipt(tx.relayer_tx_hash)
    assert receipt is not None and receipt["status"] == 1
    assert client.events(contract_name="USDKG", address=d.token, event="Issue", receipt=receipt) == [{"amount": AMOUNT}]


# --- the proposals admin, without the browser ---------------------------------------------------
def _admin(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _add(client: Client, gold_backing, **fields):
    data = {"kind": "issue", "amount": "10", "recipient": RECIPIENT, "deposits": [gold_backing.pk], "memo": "",
            "redemption_reference": "", "fee_basis_points": "", **fields}
    return client.post("/admin/issuance/ownerproposal/add/", data)


@pytest.mark.parametrize(("fields", "message"), [
    ({"amount": "0.0000001"}, "amount: &#x27;0.0000001&#x27; has more than 6 decimals"),
    ({"amount": ""}, "amount: required for an issue or a redemption"),
    ({"recipient": RECIPIENT.lower()}, "is not checksummed (EIP-55)"),
    ({"amount": "999999999999"}, "exceeds the headroom"),
    ({"kind": "set_fee", "fee_basis_points": "25"}, "fee: between 0 and 20 basis points"),
])
def test_a_refused_draft_shows_the_services_reason_and_saves_nothing(chain, gold_backing, fields, message):
    operator = _admin("operator")
    journal = JournalEntry.objects.count()
    response = _add(operator, gold_backing, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not OwnerProposal.objects.exists() and JournalEntry.objects.count() == journal


def test_owners_and_managers_read_proposals_and_cannot_draft_propose_or_cancel(chain, gold_backing):
    assert _add(_admin("operator"), gold_backing).status_code == 302
    proposal = OwnerProposal.objects.get()
    change = f"/admin/issuance/ownerproposal/{proposal.pk}/change/"
    for username in ("owner1", "manager"):
        client = _admin(username)
        assert client.get("/admin/issuance/ownerproposal/").status_code == 200
        page = client.get(change).content.decode()
        assert "10.000000" in page and "_fsm_transition_to" not in page
        assert client.get("/admin/issuance/ownerproposal/add/").status_code == 403
        assert client.post(change, {"_fsm_transition_to": "propose"}).status_code == 403
        assert client.post(f"/admin/issuance/ownerproposal/{proposal.pk}/withdraw/",
                           {"reason": "no"}).status_code == 403
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.DRAFT and proposal.transaction is None


def test_the_operator_cancels_a_draft_with_a_reason(chain, gold_backing):
    operator = _admin("operator")
    _add(operator, gold_backing)
    proposal = OwnerProposal.objects.get()
    cancel = f"/admin/issuance/ownerproposal/{proposal.pk}/transition/cancel/"
    assert operator.post(cancel, {"reason": "typed the wrong recipient"}).status_code == 302
    proposal.refresh_from_db()
    assert (proposal.state, proposal.cancel_reason, proposal.transaction) == (
        ProposalState.CANCELLED, "typed the wrong recipient", None)


def test_the_operator_cancels_a_proposed_issue_with_a_reason(chain, gold_backing):
    operator = _admin("operator")
    _add(operator, gold_backing)
    proposal = OwnerProposal.objects.get()
    change = f"/admin/issuance/ownerproposal/{proposal.pk}/change/"
    confirm = operator.post(change, {"_fsm_transition_to": "propose"})
    assert confirm["Location"] == f"/admin/issuance/ownerproposal/{proposal.pk}/transition/propose/"
    operator.post(confirm["Location"], {"confirmed": "True"})
    proposal.refresh_from_db()
    assert proposal.transaction is not None
    assert f'href="/multisig/{proposal.transaction.pk}/"' in operator.get(change).content.decode()

    withdraw = f"/admin/issuance/ownerproposal/{proposal.pk}/withdraw/"
    assert "This field is required" in operator.post(withdraw, {"reason": ""}).content.decode()
    proposal.transaction.refresh_from_db()
    assert proposal.transaction.state == TxState.AWAITING_SIGNATURES

    assert operator.post(withdraw, {"reason": "the depositor withdrew"}).status_code == 302
    proposal.transaction.refresh_from_db()
    assert (proposal.transaction.state, proposal.transaction.cancel_reason) == (
        TxState.CANCELLED, "the depositor withdrew")
    assert proposal.status == "cancelled"
