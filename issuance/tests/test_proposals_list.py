"""GET /api/proposals/ builds its rows from values (issuance/api/proposal_rows.py), not through the model
serializers: the JSON must be exactly the serializers' for proposals in every state, and a page must cost
the same number of queries whatever the number of rows on it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from backoffice.multisig.models import Confirmation, MultisigTransaction, TxState
from issuance.api.proposal_rows import proposal_rows_present, proposals_listed
from issuance.api.proposals import ProposalSerializer, ProposalViewSet
from issuance.models import Deposit

from .test_proposals_api import api, drafted, proposed, sign

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _serialized(status: str | None = None) -> list[dict[str, Any]]:
    """What the model serializers say of the proposals, newest first (the detail's queryset)."""
    view = ProposalViewSet()
    view.action = "retrieve"
    queryset = view.get_queryset()
    if status:
        queryset = queryset.filter(Q(transaction__isnull=True, state=status) | Q(transaction__state=status))
    return list(json.loads(JSONRenderer().render(ProposalSerializer(queryset, many=True).data)))


def _rows(status: str | None = None) -> list[dict[str, Any]]:
    return list(json.loads(JSONRenderer().render(proposal_rows_present(proposals_listed(status=status)))))


def _every_state(deposit: Deposit) -> None:
    """A draft, a cancelled draft, one proposed and signed once, one approved then cancelled (so with a
    rejection at its nonce), and a fee change awaiting signatures."""
    drafted(deposit, amount="11")
    cancelled_draft = drafted(deposit, amount="12")
    assert api("operator").post(f"/api/proposals/{cancelled_draft['id']}/cancel/",
                                {"reason": "typo"}, format="json").status_code == 200
    signed_once = proposed(deposit, amount="13")
    assert sign(signed_once["id"], 1).status_code == 201
    approved = proposed(deposit, amount="14")
    for owner in (1, 2, 3):
        assert sign(approved["id"], owner).status_code == 201
    assert api("operator").post(f"/api/proposals/{approved['id']}/cancel/", {"reason": "wrong bank"},
                                format="json").status_code == 200
    fee = api("operator").post("/api/proposals/", {"kind": "set_fee", "fee_basis_points": 7}, format="json")
    assert fee.status_code == 201, fee.content
    assert api("operator").post(f"/api/proposals/{fee.json()['id']}/propose/").status_code == 200


def test_the_list_says_exactly_what_the_serializers_say_of_proposals_in_every_state(
    chain: Any, gold_backing: Deposit
) -> None:
    _every_state(gold_backing)
    assert MultisigTransaction.objects.filter(replaces__isnull=False).exists()  # a rejection is among them
    assert Confirmation.objects.exists()

    assert _rows() == _serialized() and len(_rows()) == 5
    for status in ("draft", "cancelled", "awaiting_signatures", TxState.APPROVED):
        assert _rows(status) == _serialized(status)
    # And through the API, paged and filtered.
    body = api("manager").get("/api/proposals/?page_size=2&status=cancelled").json()
    assert (body["count"], body["results"]) == (2, _serialized("cancelled"))


def test_a_page_of_many_proposals_costs_the_queries_of_a_page_of_one(chain: Any, gold_backing: Deposit) -> None:
    manager = api("manager")
    manager.get("/api/proposals/")  # the session's first request writes its own rows

    asked = iter(range(1_000_000))

    def queries() -> int:
        # A page of its own each time (an ignored parameter): what building a page costs, not the cache's answer.
        with CaptureQueriesContext(connection) as captured:
            assert manager.get(f"/api/proposals/?fresh={next(asked)}").status_code == 200
        return len(captured)

    assert sign(proposed(gold_backing, amount="21")["id"], 1).status_code == 201
    one = queries()
    for n in range(4):
        assert sign(proposed(gold_backing, amount=f"3{n}")["id"], 2).status_code == 201
        drafted(gold_backing, amount=f"4{n}")
    assert len(manager.get("/api/proposals/").json()["results"]) == 9
    assert queries() == one
    # A rejection on the page is one more query, however many there are.
    for body in manager.get("/api/proposals/?status=awaiting_signatures").json()["results"][:2]:
        assert api("operator").post(f"/api/proposals/{body['id']}/cancel/", {"reason": "no"},
                                    format="json").status_code == 200
    assert MultisigTransaction.objects.filter(replaces__isnull=False).count() == 2
    assert queries() == one + 1


def test_a_page_size_beyond_the_maximum_is_served_at_the_maximum(chain: Any, gold_backing: Deposit) -> None:
    drafted(gold_backing, amount="51")
    response = api("manager").get("/api/proposals/?page_size=100000")
    assert response.status_code == 200
    assert response.json()["count"] == 1 and len(response.json()["results"]) == 1


def test_a_page_is_served_from_the_cache_until_anything_on_it_changes(chain: Any, gold_backing: Deposit) -> None:
    manager = api("manager")
    first = proposed(gold_backing, amount="61")
    before = manager.get("/api/proposals/").json()
    with CaptureQueriesContext(connection) as captured:
        again = manager.get("/api/proposals/").json()
    assert again == before
    assert not [q for q in captured if "issuance_ownerproposal" in q["sql"]]  # the page came from the cache

    # Each change is journaled, and the journal's head is the cache's key: the next page shows it.
    assert sign(first["id"], 1).status_code == 201
    assert before["results"][0]["transaction"]["confirmations_count"] == 0
    assert manager.get("/api/proposals/").json()["results"][0]["transaction"]["confirmations_count"] == 1
    drafted(gold_backing, amount="62")
    after = manager.get("/api/proposals/").json()
    assert after["count"] == before["count"] + 1
    assert after["results"][0]["amount"] != before["results"][0]["amount"]
