"""A pause while paused, an unpause while not paused, or a fee equal to the current one would be approved
by the owners and then revert (or change nothing): drafting and proposing one is refused from what the
token says on chain, through the service, the API and the admin form, and nothing is stored.

The session's anvil is shared by every test: a test that pauses the token or changes its fee does so
through the real multisig flow and puts the token back as it found it in a `finally`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import Client, override_settings

from backoffice.chain.client import ChainUnavailable, chain_client
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import MultisigRole, TxState
from backoffice.multisig.services import (
    multisig_transaction_broadcast,
    multisig_transaction_propose,
)
from backoffice.multisig.tests.helpers import follow_settled, owners_sign
from issuance.models import OwnerProposal
from issuance.services.gold import InvalidInput
from issuance.services.proposals import proposal_draft, proposal_propose

from .test_proposals_api import api, stored, user

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

ALREADY_PAUSED = "kind: the token is already paused; there is nothing to pause"
NOT_PAUSED = "kind: the token is not paused; there is nothing to unpause"


def _token_execute(function: str, *args: Any) -> None:
    """Run a token call through the issuance multisig: proposed, signed by 3 owners, broadcast, executed."""
    client = chain_client()
    tx = multisig_transaction_propose(client=client, multisig=MultisigRole.ISSUANCE, to=deployment_get().token,
                                      data=client.token_calldata(function, *args), decoded={"function": function},
                                      actor=user("operator"))
    multisig_transaction_broadcast(client=client, transaction_id=owners_sign(tx).pk)
    settled = follow_settled(tx.pk)
    assert settled.state == TxState.EXECUTED, settled.failure_reason


def _paused() -> bool:
    return chain_client().token_paused(deployment_get().token)


def _fee() -> int:
    return chain_client().token_fee_basis_points(deployment_get().token)


@contextmanager
def token_paused() -> Iterator[None]:
    assert not _paused()
    _token_execute("pause")
    try:
        assert _paused()
        yield
    finally:
        if _paused():
            _token_execute("unpause")


@contextmanager
def token_fee(basis_points: int) -> Iterator[None]:
    original = _fee()
    _token_execute("setParams", basis_points)
    try:
        assert _fee() == basis_points
        yield
    finally:
        if _fee() != original:
            _token_execute("setParams", original)


def _draft(kind: str, **kwargs: Any) -> OwnerProposal:
    return proposal_draft(client=chain_client(), kind=kind, actor=user("operator"), **kwargs)


def _assert_refused_everywhere(body: dict[str, Any], message: str) -> None:
    """The service and the API both refuse with `message`, and nothing is stored by either."""
    before = stored()
    with pytest.raises(InvalidInput) as refused:
        _draft(body["kind"], fee_basis_points=body.get("fee_basis_points"))
    assert str(refused.value) == message
    assert stored() == before  # no proposal, no multisig transaction, no journal entry
    response = api("operator").post("/api/proposals/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == message
    assert stored() == before


# --- pause and unpause ------------------------------------------------------------------------

def test_a_pause_while_the_token_is_paused_is_refused_and_an_unpause_is_drafted(chain: Any) -> None:
    with token_paused():
        _assert_refused_everywhere({"kind": "pause"}, ALREADY_PAUSED)
        response = api("operator").post("/api/proposals/", {"kind": "unpause"}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["kind"] == "unpause"


def test_an_unpause_while_the_token_is_not_paused_is_refused_and_a_pause_is_drafted(chain: Any) -> None:
    assert not _paused()
    _assert_refused_everywhere({"kind": "unpause"}, NOT_PAUSED)
    draft = _draft("pause")
    proposed = proposal_propose(client=chain_client(), proposal_id=draft.pk, actor=user("operator"))
    assert proposed.transaction is not None and proposed.transaction.decoded["function"] == "pause"


def test_a_pause_drafted_before_the_token_was_paused_cannot_be_proposed(chain: Any) -> None:
    draft = _draft("pause")
    with token_paused():
        before = stored()
        with pytest.raises(InvalidInput, match=ALREADY_PAUSED):
            proposal_propose(client=chain_client(), proposal_id=draft.pk, actor=user("operator"))
        assert stored() == before  # still a draft, no multisig transaction, no journal entry
        response = api("operator").post(f"/api/proposals/{draft.pk}/propose/")
        assert response.status_code == 400 and response.json()["detail"] == ALREADY_PAUSED
        assert stored() == before


# --- the fee ----------------------------------------------------------------------------------

def test_a_fee_equal_to_the_current_one_is_refused_and_a_different_one_is_drafted(chain: Any) -> None:
    with token_fee(5):
        _assert_refused_everywhere({"kind": "set_fee", "fee_basis_points": 5},
                                   "fee: the fee is already 5 basis points; nothing would change")
        response = api("operator").post("/api/proposals/", {"kind": "set_fee", "fee_basis_points": 6},
                                        format="json")
        assert response.status_code == 201, response.content
        assert response.json()["fee_basis_points"] == 6


def test_a_fee_change_the_chain_made_redundant_since_the_draft_cannot_be_proposed(chain: Any) -> None:
    draft = _draft("set_fee", fee_basis_points=7)
    with token_fee(7):
        before = stored()
        response = api("operator").post(f"/api/proposals/{draft.pk}/propose/")
        assert response.status_code == 400, response.content
        assert response.json()["detail"] == "fee: the fee is already 7 basis points; nothing would change"
        assert stored() == before


# --- the admin form and an unreadable chain ---------------------------------------------------

def test_the_admin_add_form_shows_a_redundant_pause_or_fee_beside_its_field_and_saves_nothing(chain: Any) -> None:
    client = Client()
    client.force_login(user("operator"))
    empty = {"amount": "", "recipient": "", "memo": "", "redemption_reference": "", "fee_basis_points": ""}
    before = stored()
    response = client.post("/admin/issuance/ownerproposal/add/", {**empty, "kind": "unpause"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"kind": [NOT_PAUSED]}
    response = client.post("/admin/issuance/ownerproposal/add/",
                           {**empty, "kind": "set_fee", "fee_basis_points": str(_fee())})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "fee_basis_points": [f"fee: the fee is already {_fee()} basis points; nothing would change"]}
    assert stored() == before


@override_settings(CHAIN_RPC_URL="http://127.0.0.1:9")  # nothing listens on the discard port
def test_a_pause_is_not_drafted_when_the_chain_cannot_be_read(chain: Any) -> None:
    before = stored()
    with pytest.raises(ChainUnavailable):
        _draft("pause")
    response = api("operator").post("/api/proposals/", {"kind": "pause"}, format="json")
    assert response.status_code == 503, response.content
    assert stored() == before
