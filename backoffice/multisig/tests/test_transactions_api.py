"""`/api/multisig/transactions/`: one API for the transactions of both multisigs, on a real anvil.

Lists with filters and visibility, a detail whose call is decoded from the signed bytes, and cancel and
reject of a compliance transaction (which the compliance API never offered), the case's proposal
following; bad input and the wrong role are refused and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from eth_account import Account
from rest_framework.test import APIClient

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.tests.helpers import issue_propose
from compliance import services as compliance
from compliance.models import ComplianceProposal
from compliance.tests.factories import case_for, officer, officer_sign
from issuance.models import OwnerProposal

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

URL = "/api/multisig/transactions/"


def api(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username=username))
    return client


def blacklist_proposed() -> ComplianceProposal:
    case = case_for(str(Account.create().address))
    return compliance.compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                                 actor=officer(1))


def snapshot() -> tuple[Any, ...]:
    """Everything cancelling or rejecting could change, journal included."""
    return (list(MultisigTransaction.objects.order_by("pk").values_list("pk", "state", "cancel_reason")),
            list(OwnerProposal.objects.order_by("pk").values_list("pk", "state", "cancel_reason")),
            list(ComplianceProposal.objects.order_by("pk").values_list("pk", "transaction_id")),
            JournalEntry.objects.count())


def ids(client: APIClient, query: str = "") -> list[int]:
    response = client.get(URL + query)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_the_list_filters_by_multisig_state_and_nonce_and_shows_each_user_only_what_they_may_see(chain: Any) -> None:
    issue = issue_propose(5_000_000, dev_account(17).address)
    blacklist = blacklist_proposed().transaction
    manager = api("manager")
    assert ids(manager) == [blacklist.pk, issue.pk]
    assert ids(manager, "?multisig=compliance") == [blacklist.pk] == ids(manager, "?role=compliance")
    assert ids(manager, "?multisig=issuance") == [issue.pk]
    assert ids(manager, f"?multisig=issuance&nonce={issue.nonce}") == [issue.pk]
    assert ids(manager, f"?multisig=issuance&nonce={issue.nonce + 1}") == []
    assert ids(manager, "?state=awaiting_signatures") == [blacklist.pk, issue.pk]
    assert ids(manager, "?state=executed") == []
    # Operators see the issuance multisig's only; officers the compliance multisig's only.
    assert ids(api("operator")) == [issue.pk]
    assert ids(api("officer2")) == [blacklist.pk]
    for query, field in (("?state=done", "state"), ("?multisig=treasury", "multisig"), ("?nonce=x", "nonce")):
        refused = manager.get(URL + query)
        assert refused.status_code == 400 and field in refused.json(), refused.content
    row = manager.get(URL + "?multisig=compliance").json()["results"][0]
    assert row["url"] == f"{URL}{blacklist.pk}/" and row["page_url"] == f"/multisig/{blacklist.pk}/"
    assert row["call"]["function"] == "addBlackList" and row["call"]["action"] == "blacklist"


def test_the_detail_decodes_the_call_from_the_bytes_and_names_the_case_it_belongs_to(chain: Any) -> None:
    proposal = blacklist_proposed()
    officer_sign(proposal.transaction, 2)
    body = api("officer3").get(f"{URL}{proposal.transaction_id}/").json()
    assert body["call"]["description"] == f"Blacklist (freeze sending): {proposal.address}"
    assert body["call"]["user"] == proposal.address
    assert body["record"] == {"kind": "compliance_proposal", "id": proposal.pk,
                              "label": f"{proposal.reference} (case {proposal.case_id})",
                              "url": f"/admin/compliance/case/{proposal.case_id}/change/", "case": proposal.case_id}
    assert [c["username"] for c in body["confirmations"]] == ["officer2"] and body["confirmations_count"] == 1
    assert body["state"] == "awaiting_signatures" and body["final"] is False and body["threshold"] == 5
    assert body["calldata"] == "0x" + bytes(proposal.transaction.data).hex() and body["operation"] == 0
    typed = api("officer3").get(body["typed_data_url"]).json()
    assert typed["message"]["nonce"] == str(proposal.transaction.nonce)
    # What the author wrote in `decoded` does not matter: an issue described as a pause is an issue.
    lying = issue_propose(7_000_000, dev_account(17).address, decoded={"function": "pause"})
    call = api("manager").get(f"{URL}{lying.pk}/").json()["call"]
    assert (call["function"], call["action"], call["tokens"]) == ("issue", "issue", "7.000000")
    # The compliance API links its proposals' transactions here instead of repeating their actions.
    linked = api("officer1").get(f"/api/compliance/proposals/{proposal.pk}/").json()["transaction"]
    assert (linked["id"], linked["url"]) == (proposal.transaction_id, f"{URL}{proposal.transaction_id}/")
    # Compliance stays hidden from other roles: a 404, as for a transaction that does not exist.
    assert api("operator").get(f"{URL}{proposal.transaction_id}/").status_code == 404


def test_an_officer_cancels_a_signed_compliance_transaction_and_the_case_proposal_follows(chain: Any) -> None:
    proposal = blacklist_proposed()
    officer_sign(proposal.transaction, 1)
    response = api("officer2").post(f"{URL}{proposal.transaction_id}/cancel/", {"reason": "wrong address"},
                                    format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["transaction"]["state"] == "cancelled" and body["transaction"]["cancel_reason"] == "wrong address"
    # It carried a signature: a rejection at its nonce keeps that signature from ever being used.
    rejection = MultisigTransaction.objects.get(pk=body["rejection"]["id"])
    assert (rejection.replaces_id, rejection.nonce) == (proposal.transaction_id, proposal.transaction.nonce)
    assert body["rejection"]["call"]["function"] == "rejection"
    proposal.refresh_from_db()
    assert proposal.status == TxState.CANCELLED
    withdrawn = JournalEntry.objects.get(action="compliance.proposal.withdrawn")
    assert (withdrawn.reason, withdrawn.data["how"], withdrawn.data["rejection"]) == (
        "wrong address", "cancelled", rejection.safe_tx_hash)
    # The rejection belongs to the same case; it cannot itself be cancelled.
    assert api("officer2").get(f"{URL}{rejection.pk}/").json()["record"]["case"] == proposal.case_id
    before = snapshot()
    refused = api("officer2").post(f"{URL}{rejection.pk}/cancel/", {"reason": "oops"}, format="json")
    assert refused.status_code == 409 and snapshot() == before


def test_an_officer_rejects_a_compliance_transaction_and_a_new_one_can_be_proposed(chain: Any) -> None:
    proposal = blacklist_proposed()
    response = api("officer4").post(f"{URL}{proposal.transaction_id}/reject/", {"reason": "no court order attached"},
                                    format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "rejected" and response.json()["cancel_reason"] == "no court order attached"
    assert JournalEntry.objects.get(action="compliance.proposal.withdrawn").data["how"] == "rejected"
    # One officer's refusal no longer blocks the address for ever: the same action may be proposed again.
    again = compliance.compliance_proposal_create(client=chain_client(), case_id=proposal.case_id,
                                                  action="blacklist", actor=officer(1))
    assert again.transaction.state == TxState.AWAITING_SIGNATURES


@pytest.mark.parametrize(("username", "step", "body", "code", "field"), [
    ("officer2", "cancel", {}, 400, "reason"),
    ("officer2", "cancel", {"reason": "   "}, 400, "reason"),
    ("officer2", "reject", {"reason": ""}, 400, "reason"),
    ("manager", "cancel", {"reason": "I read everything"}, 403, None),  # sees it, may not withdraw it
    ("manager", "reject", {"reason": "I read everything"}, 403, None),  # not a signer
    ("operator", "cancel", {"reason": "not mine"}, 404, None),  # compliance is hidden from operators
    ("owner1", "reject", {"reason": "other multisig"}, 404, None),
])
def test_a_bad_cancel_or_reject_of_a_compliance_transaction_is_refused_and_changes_nothing(
    chain: Any, username: str, step: str, body: dict[str, str], code: int, field: str | None
) -> None:
    proposal = blacklist_proposed()
    officer_sign(proposal.transaction, 1)
    client = api(username)
    before = snapshot()
    response = client.post(f"{URL}{proposal.transaction_id}/{step}/", body, format="json")
    assert response.status_code == code, response.content
    assert field is None or field in response.json()
    assert snapshot() == before


def test_an_owner_may_reject_but_not_cancel_an_issuance_transaction(chain: Any) -> None:
    tx = issue_propose(5_000_000, dev_account(17).address)
    before = snapshot()
    refused = api("owner1").post(f"{URL}{tx.pk}/cancel/", {"reason": "owners do not withdraw"}, format="json")
    assert refused.status_code == 403 and snapshot() == before
    assert api("officer1").post(f"{URL}{tx.pk}/reject/", {"reason": "x"}, format="json").status_code == 404
    assert snapshot() == before
    rejected = api("owner1").post(f"{URL}{tx.pk}/reject/", {"reason": "not now"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    # Settled: neither step applies any more (409), and nothing changes.
    before = snapshot()
    assert api("operator").post(f"{URL}{tx.pk}/cancel/", {"reason": "late"}, format="json").status_code == 409
    assert snapshot() == before


def test_an_owner_proposal_links_its_transaction_and_follows_a_cancel_or_reject_made_here(
    chain: Any, gold_backing: Any
) -> None:
    from issuance.tests.test_proposals_api import owner_key, proposed, signature_by

    body = proposed(gold_backing, amount="10")
    tx_id = body["transaction"]["id"]
    assert body["transaction"]["url"] == f"{URL}{tx_id}/"
    assert api("owner2").get(f"{URL}{tx_id}/").json()["record"]["id"] == body["id"]
    # An owner signs through this API: the typed data and the signature endpoint are the same for both multisigs.
    typed = api("owner2").get(f"{URL}{tx_id}/typed-data/").json()
    signed = api("owner2").post(f"{URL}{tx_id}/signatures/", {"signature": signature_by(owner_key(2), typed)},
                                format="json")
    assert signed.status_code == 201 and signed.json()["confirmations_count"] == 1
    rejected = api("owner3").post(f"{URL}{tx_id}/reject/", {"reason": "the deposit is disputed"}, format="json")
    assert rejected.status_code == 200, rejected.content
    proposal = OwnerProposal.objects.get(pk=body["id"])
    assert (proposal.status, proposal.cancel_reason) == ("rejected", "the deposit is disputed")
    withdrawn = JournalEntry.objects.get(action="issuance.proposal.withdrawn")
    assert (withdrawn.object_id, withdrawn.data["how"]) == (str(proposal.pk), "rejected")
    # The signing page shows what the bytes call, whatever the author's description said.
    lying = issue_propose(7_000_000, dev_account(17).address, decoded={"function": "pause"})
    page = APIClient()
    page.force_login(get_user_model().objects.get(username="owner1"))
    html = page.get(f"/multisig/{lying.pk}/").content.decode()
    assert '<code id="tx-function">issue</code>' in html and "Issue 7.000000 USDKG to" in html
