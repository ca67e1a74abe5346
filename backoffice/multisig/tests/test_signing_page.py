"""The signing page and the JSON it uses (the one transactions API, /api/multisig/transactions/<id>/): who
may see a transaction, who gets the button, what a refusal says."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from eth_account import Account

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import Confirmation, MultisigRole, MultisigTransaction, TxState
from backoffice.multisig.services import (
    confirmation_add,
    multisig_transaction_cancel,
    multisig_transaction_propose,
    safe_tx_of,
)
from issuance.services.proposals import proposal_draft, proposal_propose

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

RECIPIENT = dev_account(16).address


def _user(username: str):
    return get_user_model().objects.get(username=username)


def _client(username: str) -> Client:
    client = Client()
    client.force_login(_user(username))
    return client


@pytest.fixture
def issue_tx(chain, gold_backing) -> MultisigTransaction:
    """An issue of 1,234.5 tokens proposed by the operator through the proposal services."""
    operator = _user("operator")
    proposal = proposal_draft(client=chain_client(), kind="issue", actor=operator, amount="1234.5",
                              recipient=RECIPIENT, deposit_ids=[gold_backing.pk], memo="signing page test")
    proposal = proposal_propose(client=chain_client(), proposal_id=proposal.pk, actor=operator)
    assert proposal.transaction is not None
    return proposal.transaction


def _signature(tx: MultisigTransaction, owner_number: int) -> str:
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    return "0x" + Account.sign_typed_data(dev_account(OWNER_INDEXES[owner_number - 1]).key,
                                          full_message=typed).signature.hex()


def _sign(tx: MultisigTransaction, owner_number: int) -> None:
    confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=_signature(tx, owner_number),
                     actor=_user(f"owner{owner_number}"))


def _urls(tx: MultisigTransaction) -> dict[str, str]:
    api = f"/api/multisig/transactions/{tx.pk}/"
    return {"page": f"/multisig/{tx.pk}/", "typed": api + "typed-data/", "status": api, "sign": api + "signatures/"}


def test_the_page_fetches_posts_and_polls_only_the_one_transactions_api(issue_tx):
    page = _client("owner1").get(_urls(issue_tx)["page"]).content.decode()
    config = json.loads(re.search(r'<script id="signing-config" type="application/json">(.*?)</script>', page,
                                  re.S).group(1))
    urls = _urls(issue_tx)
    assert (config["detail_url"], config["typed_data_url"], config["signatures_url"]) == (
        urls["status"], urls["typed"], urls["sign"])
    # The page's own JSON is gone.
    owner = _client("owner1")
    for old in ("typed-data/", "status/", "signatures/"):
        assert owner.get(f"/multisig/{issue_tx.pk}/{old}").status_code == 404, old


def test_an_officer_cannot_see_an_issuance_transaction_and_cannot_sign_it(issue_tx):
    urls, officer = _urls(issue_tx), _client("officer1")
    assert officer.get(urls["page"]).status_code == 403
    # In the API the issuance multisig's transactions do not exist for an officer.
    assert officer.get(urls["typed"]).status_code == 404
    assert officer.get(urls["status"]).status_code == 404
    response = officer.post(urls["sign"], {"signature": _signature(issue_tx, 1)}, content_type="application/json")
    assert response.status_code == 404
    issue_tx.refresh_from_db()
    assert issue_tx.confirmations.count() == 0 and issue_tx.state == TxState.AWAITING_SIGNATURES


def test_owners_operators_and_managers_see_an_issuance_transaction(issue_tx):
    urls = _urls(issue_tx)
    for username in ("owner1", "owner7", "operator", "manager"):
        client = _client(username)
        for name in ("page", "typed", "status"):
            assert client.get(urls[name]).status_code == 200, (username, name)
    for username in ("custodian", "auditor"):
        assert _client(username).get(urls["page"]).status_code == 403, username


def test_an_anonymous_visitor_is_sent_to_the_login_page(issue_tx):
    urls = _urls(issue_tx)
    response = Client().get(urls["page"])
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=")
    assert Client().get(urls["status"]).status_code == 403


def test_a_compliance_transaction_is_for_officers_not_owners(chain):
    client, d = chain_client(), deployment_get()
    tx = multisig_transaction_propose(client=client, multisig=MultisigRole.COMPLIANCE, to=d.token,
                                      data=client.token_calldata("pause"), decoded={"function": "pause"},
                                      actor=_user("operator"))
    page = _urls(tx)["page"]
    assert _client("owner1").get(page).status_code == 403
    response = _client("officer1").get(page)
    assert response.status_code == 200
    assert 'id="sign-button"' in response.content.decode()
    assert "0 of 5 signatures" in response.content.decode()


def test_the_page_shows_the_call_its_backing_and_the_transactions_identity(issue_tx, gold_backing):
    page = _client("owner1").get(_urls(issue_tx)["page"]).content.decode()
    for text in ("issue", RECIPIENT, "1,234.500000", "1234500000", gold_backing.reference, issue_tx.safe_tx_hash,
                 issue_tx.safe_address, f'id="chain-id">{issue_tx.chain_id}<', f'id="tx-nonce">{issue_tx.nonce}<',
                 "0 of 3 signatures", 'data-state="awaiting_signatures"', 'id="relayer-tx-hash"'):
        assert text in page, text
    # The queue lists this transaction, marked as the current one.
    assert re.search(rf'<tr class="current">\s*<td class="mono"><a href="/multisig/{issue_tx.pk}/">#{issue_tx.nonce}<',
                     page)


def test_the_sign_button_is_for_a_signer_who_has_not_signed_while_signatures_are_awaited(issue_tx):
    page = _urls(issue_tx)["page"]

    def has_button(username: str) -> bool:
        return 'id="sign-button"' in _client(username).get(page).content.decode()

    assert has_button("owner1") and has_button("owner2")
    assert not has_button("operator") and not has_button("manager")

    _sign(issue_tx, 1)
    assert not has_button("owner1") and has_button("owner2")
    content = _client("owner1").get(page).content.decode()
    assert "You have signed this transaction." in content and "1 of 3 signatures" in content
    assert "owner1" in content and dev_account(OWNER_INDEXES[0]).address in content

    multisig_transaction_cancel(client=chain_client(), transaction_id=issue_tx.pk, reason="wrong amount",
                                actor=_user("operator"))
    assert not has_button("owner2")
    assert "it takes no more signatures" in _client("owner2").get(page).content.decode()


def test_the_detail_the_page_polls_follows_the_transaction(issue_tx):
    client = _client("manager")
    status = client.get(_urls(issue_tx)["status"]).json()
    assert {k: status[k] for k in ("state", "final", "confirmations", "threshold", "relayer_tx_hash", "block_number",
                                   "failure_reason", "cancel_reason")} == {
        "state": "awaiting_signatures", "final": False, "confirmations": [], "threshold": 3, "relayer_tx_hash": "",
        "block_number": None, "failure_reason": "", "cancel_reason": ""}

    _sign(issue_tx, 4)
    status = client.get(_urls(issue_tx)["status"]).json()
    confirmation = Confirmation.objects.get(transaction=issue_tx)
    # What the page draws for each signer: name, address, when (and on chain, block and tx).
    assert status["confirmations"] == [{"username": "owner4", "address": dev_account(OWNER_INDEXES[3]).address,
                                        "signed_at": confirmation.created_at.isoformat().replace("+00:00", "Z"),
                                        "tx_hash": "", "block_number": None}]

    multisig_transaction_cancel(client=chain_client(), transaction_id=issue_tx.pk, reason="changed our minds",
                                actor=_user("operator"))
    status = client.get(_urls(issue_tx)["status"]).json()
    assert (status["state"], status["final"], status["cancel_reason"]) == ("cancelled", True, "changed our minds")


def test_a_wallet_signature_over_the_served_typed_data_is_accepted(issue_tx):
    owner = _client("owner3")
    typed = owner.get(_urls(issue_tx)["typed"]).json()
    assert typed == json.loads(json.dumps(safe_tx_of(issue_tx).typed_data(chain_id=issue_tx.chain_id,
                                                                            safe_address=issue_tx.safe_address)))
    signature = Account.sign_typed_data(dev_account(OWNER_INDEXES[2]).key, full_message=typed).signature.hex()

    response = owner.post(_urls(issue_tx)["sign"], {"signature": "0x" + signature}, content_type="application/json")

    assert response.status_code == 201, response.content
    body = response.json()  # the detail, drawn by the page as its poll would
    assert (body["state"], [c["username"] for c in body["confirmations"]], body["threshold"]) == (
        "awaiting_signatures", ["owner3"], 3)
    confirmation = Confirmation.objects.get(transaction=issue_tx)
    assert confirmation.owner_address == dev_account(OWNER_INDEXES[2]).address


def test_a_refused_signature_answers_400_with_the_reason_and_stores_nothing(issue_tx):
    owner, url = _client("owner1"), _urls(issue_tx)["sign"]
    refusals = JournalEntry.objects.filter(action="multisig.signature_refused").count()

    by_another_owner = owner.post(url, {"signature": _signature(issue_tx, 2)}, content_type="application/json")
    malformed = owner.post(url, {"signature": "0x1234"}, content_type="application/json")
    missing = owner.post(url, {}, content_type="application/json")

    assert by_another_owner.status_code == 400
    assert by_another_owner.json()["detail"] == (
        f"the signature is by {dev_account(OWNER_INDEXES[1]).address}, not by your bound address "
        f"{dev_account(OWNER_INDEXES[0]).address} (wrong account, or signed for another transaction or chain)")
    assert malformed.status_code == 400 and malformed.json()["detail"].startswith("malformed signature")
    assert missing.status_code == 400 and missing.json()["detail"].startswith("signature:")
    issue_tx.refresh_from_db()
    assert issue_tx.state == TxState.AWAITING_SIGNATURES and issue_tx.confirmations.count() == 0
    # The two refusals the service saw are journalled; the empty request never reached it.
    assert JournalEntry.objects.filter(action="multisig.signature_refused").count() == refusals + 2


def test_a_signature_post_without_the_csrf_token_is_refused(issue_tx):
    client = Client(enforce_csrf_checks=True)
    client.force_login(_user("owner1"))
    response = client.post(_urls(issue_tx)["sign"], {"signature": _signature(issue_tx, 1)},
                           content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert issue_tx.confirmations.count() == 0


@pytest.mark.django_db
def test_operators_never_see_a_compliance_transaction(chain, client):
    from django.contrib.auth import get_user_model

    from backoffice.chain.client import chain_client
    from backoffice.chain.devkeys import dev_account
    from backoffice.chain.selectors import deployment_get
    from backoffice.multisig.services import multisig_transaction_propose

    users = get_user_model().objects
    client_ = chain_client()
    tx = multisig_transaction_propose(
        client=client_, multisig="compliance", to=deployment_get().token,
        data=client_.token_calldata("addBlackList", dev_account(16).address),
        decoded={"function": "addBlackList", "user": dev_account(16).address}, actor=users.get(username="officer1"))
    for name, status in (("operator", 403), ("owner1", 403), ("manager", 200), ("officer2", 200)):
        client.force_login(users.get(username=name))
        assert client.get(f"/multisig/{tx.pk}/").status_code == status, name


def test_a_compliance_transaction_links_back_to_its_case(chain, client):
    from django.contrib.auth import get_user_model
    from eth_account import Account

    from compliance.services import compliance_proposal_create
    from compliance.tests.factories import case_for

    users = get_user_model().objects
    case = case_for(Account.create().address)
    proposal = compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                          actor=users.get(username="officer1"))
    client.force_login(users.get(username="officer2"))
    page = client.get(f"/multisig/{proposal.transaction.pk}/").content.decode()
    link = (f'<a id="tx-proposal" href="/admin/compliance/case/{case.pk}/change/">'
            f"{proposal.reference} (case {case.pk})</a>")
    assert link in page
