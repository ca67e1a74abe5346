"""The owner-proposal API on a real chain: an operator drafts and proposes, three owners sign the typed data
the one transactions API serves (reached through the proposal's `transaction.url`) with their own keys
and the transaction is approved; the typed data is the multisig's own
hash; the queue is in nonce order; cancelling works before and after approval; every role can do exactly
what it may and a refusal changes nothing.

Most tests are non-transactional: the broadcaster, scheduled on commit, never runs here, so an approved
transaction stays approved (its execution on chain is proven by backoffice/multisig/tests/test_spine.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from rest_framework.test import APIClient

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.safetx import SafeTx
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import Confirmation, MultisigTransaction, TxState
from issuance.models import Deposit, OwnerProposal, ProposalBacking

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

RECIPIENT = dev_account(15).address  # no role anywhere: just someone who receives tokens


# --- helpers (test_proposal_refusals.py uses them too) ---------------------------------------

def user(username: str) -> User:
    return User.objects.get(username=username)


def api(username: str | None) -> APIClient:
    client = APIClient()
    client.force_authenticate(user(username) if username else None)
    return client


def issue_body(deposit: Deposit, **overrides: Any) -> dict[str, Any]:
    return {"kind": "issue", "amount": "1250.5", "recipient": RECIPIENT, "deposits": [deposit.pk],
            "memo": "first tranche", **overrides}


def drafted(deposit: Deposit, *, by: str = "operator", **overrides: Any) -> dict[str, Any]:
    response = api(by).post("/api/proposals/", issue_body(deposit, **overrides), format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def proposed(deposit: Deposit, *, by: str = "operator", **overrides: Any) -> dict[str, Any]:
    draft = drafted(deposit, by=by, **overrides)
    response = api(by).post(f"/api/proposals/{draft['id']}/propose/")
    assert response.status_code == 200, response.content
    return dict(response.json())


def transaction_url(proposal_id: int, *, by: str = "owner1") -> str:
    """The proposal's link to its transaction in /api/multisig/transactions/, where it is signed."""
    response = api(by).get(f"/api/proposals/{proposal_id}/")
    assert response.status_code == 200, response.content
    transaction = response.json()["transaction"]
    assert transaction is not None, "a draft has no transaction"
    return str(transaction["url"])


def typed_data_of(proposal_id: int, *, by: str = "owner1") -> dict[str, Any]:
    response = api(by).get(transaction_url(proposal_id, by=by) + "typed-data/")
    assert response.status_code == 200, response.content
    return dict(response.json())


def owner_key(owner_number: int) -> bytes:
    return bytes(dev_account(OWNER_INDEXES[owner_number - 1]).key)


def signature_by(key: bytes, typed: dict[str, Any]) -> str:
    """What a wallet (or an offline signer) returns for eth_signTypedData_v4 over `typed`."""
    return "0x" + bytes(Account.sign_typed_data(key, full_message=typed).signature).hex()


def sign(proposal_id: int, owner_number: int, *, signature: str | None = None) -> Any:
    """Owner N fetches the typed data, signs it with its own key and posts the signature, all in the one
    transactions API; the answer (201) is the transaction's detail."""
    by = f"owner{owner_number}"
    if signature is None:
        signature = signature_by(owner_key(owner_number), typed_data_of(proposal_id, by=by))
    return api(by).post(transaction_url(proposal_id, by=by) + "signatures/", {"signature": signature}, format="json")


def stored() -> tuple[Any, ...]:
    """Everything a proposal action could change, journal included."""
    return (
        list(OwnerProposal.objects.order_by("pk").values_list("pk", "state", "transaction_id", "cancel_reason")),
        list(ProposalBacking.objects.order_by("pk").values_list("pk", "proposal_id", "deposit_id", "amount")),
        list(MultisigTransaction.objects.order_by("pk").values_list("pk", "state", "nonce")),
        list(Confirmation.objects.order_by("pk").values_list("pk", "transaction_id", "owner_address")),
        JournalEntry.objects.count(),
    )


# --- the path: draft, propose, three signatures ----------------------------------------------

def test_an_issue_drafted_proposed_and_signed_by_three_owners_through_the_api_is_approved(
    chain: Any, gold_backing: Deposit
) -> None:
    draft = drafted(gold_backing)
    assert {k: draft[k] for k in ("kind", "amount", "amount_tokens", "recipient", "memo", "status", "created_by",
                                  "transaction", "rejection")} == {
        "kind": "issue", "amount": "1250500000", "amount_tokens": "1250.500000", "recipient": RECIPIENT,
        "memo": "first tranche", "status": "draft", "created_by": "operator", "transaction": None, "rejection": None}
    assert draft["backings"] == [{"deposit": gold_backing.pk, "reference": gold_backing.reference,
                                  "amount": "1250500000", "amount_tokens": "1250.500000"}]

    safe = deployment_get().issuance_multisig
    chain_nonce = chain_client().safe_nonce(safe)
    body = api("operator").post(f"/api/proposals/{draft['id']}/propose/").json()
    tx = body["transaction"]
    assert body["status"] == "awaiting_signatures" == tx["status"]
    assert (tx["nonce"], tx["threshold"], tx["signatures"], tx["confirmations"]) == (chain_nonce, 3, "0 of 3", [])
    assert (tx["safe_address"], tx["function"], tx["proposal"]) == (safe, "issue", draft["id"])
    assert tx["safe_tx_hash"] == MultisigTransaction.objects.get(pk=tx["id"]).safe_tx_hash
    assert (tx["relayer_tx_hash"], tx["block_number"], tx["failure_reason"]) == ("", None, "")

    assert tx["url"] == f"/api/multisig/transactions/{tx['id']}/"
    for count, owner_number in enumerate((5, 2, 7), start=1):
        response = sign(draft["id"], owner_number)
        assert response.status_code == 201, response.content
        assert (response.json()["id"], len(response.json()["confirmations"])) == (tx["id"], count)
    assert response.json()["state"] == "approved"
    body = api("operator").get(f"/api/proposals/{draft['id']}/").json()
    tx = body["transaction"]
    assert body["status"] == "approved" == tx["status"] and tx["signatures"] == "3 of 3"
    assert [(c["signer"], c["owner_address"]) for c in tx["confirmations"]] == [
        (f"owner{n}", dev_account(OWNER_INDEXES[n - 1]).address) for n in (5, 2, 7)]
    assert MultisigTransaction.objects.get(pk=tx["id"]).state == TxState.APPROVED
    assert Confirmation.objects.filter(transaction_id=tx["id"]).count() == 3
    accepted = JournalEntry.objects.filter(action="multisig.signature_accepted", object_id=str(tx["id"]))
    assert sorted(accepted.values_list("actor_username", flat=True)) == ["owner2", "owner5", "owner7"]

    # A manager reads the same proposal, and the list finds it by its status.
    manager = api("manager")
    assert manager.get(f"/api/proposals/{draft['id']}/").json() == body
    assert [p["id"] for p in manager.get("/api/proposals/?status=approved").json()["results"]] == [draft["id"]]


def test_the_served_typed_data_hashes_to_the_stored_safe_tx_hash_and_the_multisigs_own(
    chain: Any, gold_backing: Deposit
) -> None:
    body = proposed(gold_backing)
    typed = typed_data_of(body["id"])
    d = deployment_get()
    assert typed["primaryType"] == "SafeTx"
    assert typed["domain"] == {"chainId": str(chain.node.chain_id), "verifyingContract": d.issuance_multisig}
    assert (typed["message"]["to"], typed["message"]["nonce"]) == (d.token, str(body["transaction"]["nonce"]))

    signable = encode_typed_data(full_message=typed)
    digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert "0x" + digest.hex() == body["transaction"]["safe_tx_hash"]
    message = typed["message"]
    onchain = chain_client().safe_tx_hash_onchain(d.issuance_multisig, SafeTx(
        to=message["to"], value=int(message["value"]), data=bytes.fromhex(message["data"][2:]),
        operation=message["operation"], nonce=int(message["nonce"])))
    assert onchain == digest


def test_a_draft_links_no_transaction_and_the_proposal_api_serves_nothing_to_sign(
    chain: Any, gold_backing: Deposit
) -> None:
    draft = drafted(gold_backing)
    before = stored()
    assert api("owner1").get(f"/api/proposals/{draft['id']}/").json()["transaction"] is None
    # Typed data and signatures live only in the one transactions API.
    assert api("owner1").get(f"/api/proposals/{draft['id']}/typed-data/").status_code == 404
    response = api("owner1").post(f"/api/proposals/{draft['id']}/signatures/", {"signature": "0x00"}, format="json")
    assert response.status_code == 404
    assert stored() == before


# --- the queue and the status filter ----------------------------------------------------------

def test_the_queue_lists_the_multisigs_pending_transactions_in_nonce_order(chain: Any, gold_backing: Deposit) -> None:
    first, second, third = (proposed(gold_backing, amount=f"{n}000") for n in (1, 2, 3))
    nonces = [p["transaction"]["nonce"] for p in (first, second, third)]
    assert nonces == list(range(nonces[0], nonces[0] + 3))
    assert sign(second["id"], 4).status_code == 201

    # Later nonces wait on the first, so cancelling it needs a rejection at its nonce: the newest row,
    # yet first in the queue.
    response = api("operator").post(f"/api/proposals/{first['id']}/cancel/", {"reason": "wrong tranche"},
                                    format="json")
    assert response.status_code == 200, response.content
    rejection = response.json()["rejection"]

    queue = api("owner1").get("/api/proposals/queue/").json()
    assert [(e["id"], e["nonce"], e["status"], e["function"], e["proposal"], e["signatures"]) for e in queue] == [
        (rejection["id"], nonces[0], "awaiting_signatures", "rejection", None, "0 of 3"),
        (second["transaction"]["id"], nonces[1], "awaiting_signatures", "issue", second["id"], "1 of 3"),
        (third["transaction"]["id"], nonces[2], "awaiting_signatures", "issue", third["id"], "0 of 3"),
    ]
    assert queue[0]["replaces"] == first["transaction"]["safe_tx_hash"]
    assert [c["signer"] for c in queue[1]["confirmations"]] == ["owner4"]


def test_the_list_filters_by_status_and_costs_the_same_queries_for_more_rows(
    chain: Any, gold_backing: Deposit
) -> None:
    waiting = proposed(gold_backing, amount="10")
    cancelled = drafted(gold_backing, amount="20")
    api("operator").post(f"/api/proposals/{cancelled['id']}/cancel/", {"reason": "duplicate"}, format="json")
    fee = api("operator").post("/api/proposals/", {"kind": "set_fee", "fee_basis_points": 5}, format="json").json()
    assert (fee["status"], fee["amount"], fee["amount_tokens"], fee["fee_basis_points"]) == ("draft", None, None, 5)

    manager = api("manager")

    def ids(query: str) -> list[int]:
        return [p["id"] for p in manager.get(f"/api/proposals/{query}").json()["results"]]

    assert ids("?status=awaiting_signatures") == [waiting["id"]]
    assert ids("?status=cancelled") == [cancelled["id"]]
    assert ids("?status=draft") == [fee["id"]]
    assert ids("") == [fee["id"], cancelled["id"], waiting["id"]]

    # Pages of their own (an ignored parameter), so each is built, not answered from the cache.
    with CaptureQueriesContext(connection) as three:
        manager.get("/api/proposals/?built=3")
    for n in range(3):
        sign(proposed(gold_backing, amount=f"3{n}")["id"], 1)
    with CaptureQueriesContext(connection) as six:
        assert len(manager.get("/api/proposals/?built=6").json()["results"]) == 6
    assert len(six) == len(three)


# --- cancelling -------------------------------------------------------------------------------

def test_cancelling_a_draft_needs_a_reason_and_creates_no_transaction(chain: Any, gold_backing: Deposit) -> None:
    draft = drafted(gold_backing)
    before = stored()
    response = api("operator").post(f"/api/proposals/{draft['id']}/cancel/", {"reason": " "}, format="json")
    assert response.status_code == 400 and response.json()["detail"] == "reason: This field may not be blank."
    assert stored() == before

    response = api("operator").post(f"/api/proposals/{draft['id']}/cancel/", {"reason": "typo in the amount"},
                                    format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["cancel_reason"], body["transaction"], body["rejection"]) == (
        "cancelled", "typo in the amount", None, None)
    assert MultisigTransaction.objects.count() == len(before[2])
    # A cancelled draft cannot be proposed any more.
    response = api("operator").post(f"/api/proposals/{draft['id']}/propose/")
    assert response.status_code == 409 and response.json()["detail"] == "only a draft can be proposed; this one is " \
                                                                        "cancelled"


def test_cancelling_an_approved_proposal_creates_a_rejection_at_the_same_nonce(
    chain: Any, gold_backing: Deposit
) -> None:
    body = proposed(gold_backing)
    for owner_number in (1, 2, 3):
        assert sign(body["id"], owner_number).status_code == 201
    tx = MultisigTransaction.objects.get(pk=body["transaction"]["id"])
    assert tx.state == TxState.APPROVED

    response = api("operator").post(f"/api/proposals/{body['id']}/cancel/", {"reason": "recipient changed bank"},
                                    format="json")
    assert response.status_code == 200, response.content
    cancelled = response.json()
    assert cancelled["status"] == "cancelled" == cancelled["transaction"]["status"]
    assert cancelled["transaction"]["cancel_reason"] == "recipient changed bank"
    rejection = cancelled["rejection"]
    assert (rejection["nonce"], rejection["status"], rejection["function"], rejection["replaces"],
            rejection["signatures"]) == (tx.nonce, "awaiting_signatures", "rejection", tx.safe_tx_hash, "0 of 3")

    row = MultisigTransaction.objects.get(pk=rejection["id"])
    assert row.safe_tx_hash == rejection["safe_tx_hash"] != tx.safe_tx_hash
    # An empty call to the multisig itself: once executed, the old signatures are worthless.
    assert (row.to, bytes(row.data), int(row.value), row.replaces_id) == (tx.safe_address, b"", 0, tx.pk)
    queue = api("owner1").get("/api/proposals/queue/").json()
    assert [(e["id"], e["nonce"]) for e in queue if e["nonce"] == tx.nonce] == [(row.pk, tx.nonce)]

    # The cancelled transaction takes no further signature.
    before = stored()
    response = sign(body["id"], 4)
    assert response.status_code == 400
    assert response.json()["detail"] == "the transaction is cancelled, it takes no more signatures"
    assert stored()[:4] == before[:4]


# --- permissions ------------------------------------------------------------------------------

READERS = ("operator", "owner1", "manager", "custodian", "auditor")
NOT_READERS = ("officer1",)


def test_reading_needs_the_view_permission(chain: Any, gold_backing: Deposit) -> None:
    body = proposed(gold_backing)
    urls = ["/api/proposals/", f"/api/proposals/{body['id']}/", "/api/proposals/queue/"]
    for username in READERS:
        for url in urls:
            assert api(username).get(url).status_code == 200, (username, url)
    for username in NOT_READERS:
        for url in urls:
            response = api(username).get(url)
            assert response.status_code == 403 and response.json()["detail"] == "your role does not allow this"
    for url in urls:
        assert api(None).get(url).status_code in (401, 403)


def _write_calls(draft_id: int, proposed_id: int) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        "create": ("/api/proposals/", {"kind": "pause"}),
        "propose": (f"/api/proposals/{draft_id}/propose/", {}),
        "cancel-draft": (f"/api/proposals/{draft_id}/cancel/", {"reason": "no longer needed"}),
        "cancel-proposed": (f"/api/proposals/{proposed_id}/cancel/", {"reason": "no longer needed"}),
    }


WRITERS = {"create": "operator", "propose": "operator", "cancel-draft": "operator", "cancel-proposed": "operator"}


def test_each_write_is_refused_to_every_other_role_and_changes_nothing(chain: Any, gold_backing: Deposit) -> None:
    draft = drafted(gold_backing, amount="7")
    body = proposed(gold_backing, amount="8")
    calls = _write_calls(draft["id"], body["id"])
    everyone = ["operator", "owner1", "manager", "custodian", "auditor", "officer1", None]
    for name, (url, data) in calls.items():
        for username in everyone:
            if username == WRITERS[name]:
                continue
            before = stored()
            response = api(username).post(url, data, format="json")
            assert response.status_code in ((401, 403) if username is None else (403,)), (name, username)
            assert "detail" in response.json()
            assert stored() == before, (name, username)
    # And each one works for its role (owners sign in the one transactions API: the tests below).
    assert sign(body["id"], 2).status_code == 201
    for name in ("create", "cancel-proposed", "propose"):
        url, data = calls[name]
        response = api(WRITERS[name]).post(url, data, format="json")
        assert response.status_code in (200, 201), (name, response.content)
    assert OwnerProposal.objects.get(pk=body["id"]).status == TxState.CANCELLED
    assert OwnerProposal.objects.get(pk=draft["id"]).status == TxState.AWAITING_SIGNATURES


def test_an_officer_or_a_manager_cannot_post_a_signature_even_a_valid_owners(
    chain: Any, gold_backing: Deposit
) -> None:
    body = proposed(gold_backing)
    url = transaction_url(body["id"]) + "signatures/"
    signature = signature_by(owner_key(3), typed_data_of(body["id"]))
    # An officer does not even see the issuance multisig's transactions.
    before = stored()
    response = api("officer1").post(url, {"signature": signature}, format="json")
    assert response.status_code == 404 and "detail" in response.json()
    assert stored() == before
    # Managers and operators see it, but only a bound signer's own signature counts: refused, and
    # nothing is stored but the refusal's journal entry.
    for username in ("manager", "operator"):
        before = stored()
        response = api(username).post(url, {"signature": signature}, format="json")
        assert response.status_code == 400, username
        assert response.json()["detail"] == "you are not a signer of the issuance multisig"
        assert stored()[:4] == before[:4] and stored()[4] == before[4] + 1
        assert JournalEntry.objects.order_by("-pk").values_list("action", flat=True)[0] == "multisig.signature_refused"
