"""The signing page and the JSON it uses (the one transactions API, /api/multisig/transactions/<id>/): who
may see a transaction, who gets the button, what a refusal says."""

import json
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from eth_abi import decode
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
from backoffice.multisig.tests.helpers import owner_signature
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
    return "0x" + owner_signature(tx, owner_number).hex()


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
    # The queue lists this transaction by its reference and nonce, marked as the current one.
    reference = f"ISS-{issue_tx.owner_proposal.pk:04d}"
    assert re.search(rf'<tr class="current" data-tx="{issue_tx.pk}" data-state="awaiting_signatures">\s*'
                     rf'<td><a href="/multisig/{issue_tx.pk}/">{reference}</a></td>\s*'
                     rf'<td class="mono">{issue_tx.nonce}</td>', page)


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
    assert "Cancelled: it takes no more signatures" in _client("owner2").get(page).content.decode()


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


# --- what a signer must know: one number, the state as people say it, the why, the hashes --------------------------

def _tokens(base_units: int) -> str:
    """Tokens as the page writes them, computed here without the app's formatter."""
    return f"{base_units // 10**6:,}.{base_units % 10**6:06d}"


def _text(html: str) -> str:
    """The page's text with tags removed and whitespace collapsed, to assert on what a person reads."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_page_is_titled_by_the_reference_with_the_nonce_and_says_the_state_as_people_do(issue_tx):
    proposal = issue_tx.owner_proposal
    page = _client("owner1").get(_urls(issue_tx)["page"]).content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert title.startswith(f"ISS-{proposal.pk:04d}: ") and f"nonce {issue_tx.nonce}" in title
    assert re.search(rf"<h1>ISS-{proposal.pk:04d}: [^<]*nonce {issue_tx.nonce}</h1>", page)
    assert "transaction #" not in page and "Transaction #" not in page
    assert ('<span id="tx-state" class="state-badge" data-state="awaiting_signatures">Awaiting 3 more approvals</span>'
            in page)

    _sign(issue_tx, 1)
    page = _client("owner2").get(_urls(issue_tx)["page"]).content.decode()
    assert 'data-state="awaiting_signatures">Awaiting 2 more approvals</span>' in page
    # The polled detail says the same, for the page to draw.
    detail = _client("owner2").get(_urls(issue_tx)["status"]).json()
    assert (detail["reference"], detail["status_label"], detail["state"]) == (
        f"ISS-{proposal.pk:04d}", "Awaiting 2 more approvals", "awaiting_signatures")


def test_an_issue_shows_its_memo_backing_gold_and_the_supply_and_headroom_before_and_after(issue_tx, gold_backing):
    from django.conf import settings

    from issuance.models import Audit, Bar

    page = _client("owner1").get(_urls(issue_tx)["page"]).content.decode()
    section = page[page.index('id="issuance-section"'):page.index('id="tx-identity"')]
    text = _text(section)
    assert "signing page test" in text  # the memo: why the owners are asked

    bars = list(Bar.objects.filter(deposit=gold_backing))
    fine_oz = sum((b.fine_oz for b in bars), start=Decimal(0))
    assert len(bars) == 10 and fine_oz == Decimal("3999.600")  # 10 bars of 400 oz at 999.9
    row = re.search(r'<tr class="backing-deposit">(.*?)</tr>', section, re.S).group(1)
    assert f'href="/admin/issuance/deposit/{gold_backing.pk}/change/">{gold_backing.reference}</a>' in row
    assert '<td class="mono backing-bars">10</td>' in row and '<td class="mono backing-oz">3999.600</td>' in row
    assert f'href="/admin/issuance/vault/{gold_backing.vault_id}/change/"' in row
    audit = Audit.objects.get(bars_audited__deposit=gold_backing, bars_audited__serial=bars[0].serial)
    assert f'href="/admin/issuance/audit/{audit.pk}/change/"' in row and "1,234.500000" in row

    # The reserve, recomputed here: audited gold at the latest price, the supply on chain before and after.
    supply = chain_client().token_total_supply(deployment_get().token)
    value = fine_oz * Decimal("2650.0000")
    assert f'id="reserve-value">{value:,.2f} USD<' in section
    backing = int((value * 10**6 / settings.COLLATERAL_RATIO).to_integral_value(rounding="ROUND_FLOOR"))
    amount = 1_234_500_000
    expected = {"supply-before": supply, "supply-after": supply + amount,
                "headroom-before": backing - supply, "headroom-after": backing - supply - amount}
    for html_id, number in expected.items():
        assert f'id="{html_id}">{_tokens(number)}<' in section, (html_id, _tokens(number))
    assert 'id="reserve-exceeded"' not in section


def test_the_three_hashes_a_device_shows_are_those_eth_account_computes(issue_tx):
    from eth_account.messages import encode_typed_data
    from eth_utils import keccak

    # The SafeTx typed data, written out here from the stored fields (not taken from the app's encoder).
    typed = {
        "types": {"EIP712Domain": [{"name": "chainId", "type": "uint256"},
                                   {"name": "verifyingContract", "type": "address"}],
                  "SafeTx": [{"name": n, "type": t} for n, t in (
                      ("to", "address"), ("value", "uint256"), ("data", "bytes"), ("operation", "uint8"),
                      ("safeTxGas", "uint256"), ("baseGas", "uint256"), ("gasPrice", "uint256"),
                      ("gasToken", "address"), ("refundReceiver", "address"), ("nonce", "uint256"))]},
        "primaryType": "SafeTx",
        "domain": {"chainId": issue_tx.chain_id, "verifyingContract": issue_tx.safe_address},
        "message": {"to": issue_tx.to, "value": int(issue_tx.value), "data": bytes(issue_tx.data),
                    "operation": issue_tx.operation, "safeTxGas": 0, "baseGas": 0, "gasPrice": 0,
                    "gasToken": "0x" + "00" * 20, "refundReceiver": "0x" + "00" * 20, "nonce": issue_tx.nonce},
    }
    signable = encode_typed_data(full_message=typed)
    domain, message = "0x" + signable.header.hex(), "0x" + signable.body.hex()
    digest = "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()
    assert digest == issue_tx.safe_tx_hash

    page = _client("owner1").get(_urls(issue_tx)["page"]).content.decode()
    for html_id, value in (("domain-hash", domain), ("message-hash", message), ("safe-tx-hash", digest)):
        assert f'<code id="{html_id}">{value}</code>' in page, html_id
    prompt = _text(re.search(r'<td id="wallet-prompt">(.*?)</td>', page, re.S).group(1))
    assert "sign typed data" in prompt and "domain hash" in prompt and "message hash" in prompt
    assert 'id="hash-mismatch"' not in page


def test_a_stored_hash_that_its_fields_do_not_make_is_flagged_and_offers_no_signing(issue_tx):
    MultisigTransaction.objects.filter(pk=issue_tx.pk).update(safe_tx_hash="0x" + "ab" * 32)
    page = _client("owner1").get(_urls(issue_tx)["page"]).content.decode()
    assert 'id="hash-mismatch"' in page and 'id="sign-button"' not in page
    assert "do not sign" in page


def _compliance_page(address: str, action: str) -> tuple[str, object]:
    from compliance.services import compliance_proposal_create
    from compliance.tests.factories import case_for

    case = case_for(address)
    proposal = compliance_proposal_create(client=chain_client(), case_id=case.pk, action=action,
                                          actor=_user("officer1"))
    page = _client("officer2").get(f"/multisig/{proposal.transaction.pk}/").content.decode()
    return page, proposal


def test_a_compliance_page_shows_the_case_and_the_address_as_the_chain_sees_it_now(chain, gold_backing):
    from compliance.tests.test_api import blacklisted
    from issuance.tests.factories import issue_on_chain

    # An address holding 42.5 tokens that the compliance multisig blacklisted: its unblacklist proposal.
    holder = Account.create().address
    issue_on_chain(amount=42_500_000, recipient=holder)
    blacklisted(holder)
    client, token = chain_client(), deployment_get().token
    assert (client.token_balance(token, holder), client.token_is_blacklisted(token, holder)) == (42_500_000, True)
    page, proposal = _compliance_page(holder, "unblacklist")
    case = proposal.case
    section = page[page.index('id="compliance-section"'):page.index('id="tx-identity"')]
    assert f'<a id="case-link" href="/admin/compliance/case/{case.pk}/change/">Case #{case.pk}</a>' in section
    assert '<td id="case-category">Court order</td>' in section
    assert f'<td id="case-reference">{case.reference}</td>' in section
    assert "Freeze order from the district court" in section
    assert '<span class="mono" id="address-balance">42.500000</span>' in section
    assert 'data-blacklisted="true"' in section
    assert f"CMP-{proposal.pk:04d}" in re.search(r"<title>(.*?)</title>", page, re.S).group(1)

    # A fresh address: nothing on chain, not blacklisted; the page says so (read now, not remembered).
    page, _ = _compliance_page(Account.create().address, "blacklist")
    assert '<span class="mono" id="address-balance">0.000000</span>' in page and 'data-blacklisted="false"' in page


def test_the_queue_rows_are_served_for_the_poll_to_those_who_see_the_transaction_only(issue_tx):
    url = f"/multisig/{issue_tx.pk}/queue/"
    rows = _client("owner1").get(url)
    assert rows.status_code == 200
    assert f'<tr class="current" data-tx="{issue_tx.pk}" data-state="awaiting_signatures">' in rows.content.decode()
    assert "Awaiting 3 more approvals" in rows.content.decode()
    assert _client("officer1").get(url).status_code == 403
    assert Client().get(url).status_code == 302

    multisig_transaction_cancel(client=chain_client(), transaction_id=issue_tx.pk, reason="wrong amount",
                                actor=_user("operator"))
    # Settled: it leaves the queue at the next poll.
    assert f'data-tx="{issue_tx.pk}"' not in _client("owner1").get(url).content.decode()


@pytest.mark.parametrize("chain", ["usdkg"], indirect=True)
def test_on_the_usdkg_multisig_the_prompt_is_approve_hash_whose_argument_is_the_safe_tx_hash(chain, issue_tx):
    owner = _client("owner1")
    page = owner.get(_urls(issue_tx)["page"]).content.decode()
    prompt = _text(re.search(r'<td id="wallet-prompt">(.*?)</td>', page, re.S).group(1))
    assert "send a transaction" in prompt and "hashToApprove" in prompt and "10th 32-byte word" in prompt
    assert "sign typed data" not in prompt
    assert f'<code id="safe-tx-hash">{issue_tx.safe_tx_hash}</code>' in page
    # What the wallet is then asked to send: approveHash of the call, whose hashToApprove (the 10th word of the
    # arguments, decoded here with eth_abi) is exactly that hash.
    call = owner.get(f"/api/multisig/transactions/{issue_tx.pk}/approve-call/").json()
    data = bytes.fromhex(call["data"][2:])
    assert call["to"] == issue_tx.safe_address
    assert "0x" + data[4 + 9 * 32:4 + 10 * 32].hex() == issue_tx.safe_tx_hash
    fields = decode(["address", "uint256", "bytes", "uint8", "uint256", "uint256", "uint256", "address", "address",
                     "bytes32"], data[4:])
    assert (fields[0], fields[2], "0x" + fields[9].hex()) == (issue_tx.to.lower(), bytes(issue_tx.data),
                                                             issue_tx.safe_tx_hash)
