"""Step-up before money moves: a signature, a raw transaction, a cancel, an approval call, a proposal
(API and admin) without a second factor within STEP_UP_SECONDS is refused, says how to confirm it, and
stores nothing; a personal API token signs only with may_sign. On a real anvil."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from eth_account import Account
from rest_framework.test import APIClient

from backoffice.accounts.tests.mfa import client_session_verify, log_in_password_only, totp_code
from backoffice.accounts.tokens import api_token_create
from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import Confirmation, MultisigTransaction, RawSubmission
from backoffice.multisig.tests.helpers import owner_signature
from issuance.models import OwnerProposal, ProposalState
from issuance.services.proposals import proposal_draft, proposal_propose

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

CHALLENGE = "/account/second-factor/check/"


def unverified(user: User) -> Client:
    client = Client()
    log_in_password_only(client, user)
    return client


@pytest.fixture
def issue_tx(chain, gold_backing) -> MultisigTransaction:
    operator = User.objects.get(username="operator")
    proposal = proposal_draft(client=chain_client(), kind="issue", actor=operator, amount="10",
                              recipient=dev_account(16).address, deposit_ids=[gold_backing.pk], memo="step-up")
    proposal = proposal_propose(client=chain_client(), proposal_id=proposal.pk, actor=operator)
    assert proposal.transaction is not None
    return proposal.transaction


def _signature(tx: MultisigTransaction, owner_number: int) -> str:
    return "0x" + owner_signature(tx, owner_number).hex()


def _stale(username: str) -> Client:
    """Signed in with the second factor, but longer ago than STEP_UP_SECONDS."""
    user = User.objects.get(username=username)
    client = unverified(user)
    client_session_verify(client, user, at=time.time() - 301)
    return client


def test_a_signature_or_a_raw_transaction_without_a_fresh_step_up_is_refused_and_nothing_is_stored(issue_tx):
    url = f"/api/multisig/transactions/{issue_tx.pk}/"
    client, journal = _stale("owner1"), JournalEntry.objects.count()
    assert client.get(f"/multisig/{issue_tx.pk}/").status_code == 200  # reading is fine

    for response in (
        client.post(url + "signatures/", {"signature": _signature(issue_tx, 1)}, content_type="application/json"),
        client.post(url + "raw/", {"raw": "0x02"}, content_type="application/json"),
        client.post(url + "cancel/", {"reason": "no"}, content_type="application/json"),
        client.get(url + "approve-call/"),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["detail"].startswith("Confirm your second factor first")
        assert response.json()["step_up"].startswith(CHALLENGE)
    assert Confirmation.objects.filter(transaction=issue_tx).count() == 0
    assert RawSubmission.objects.count() == 0 and JournalEntry.objects.count() == journal

    # After the challenge, the same signature is accepted.
    client.post(CHALLENGE, {"code": totp_code(User.objects.get(username="owner1"))})
    ok = client.post(url + "signatures/", {"signature": _signature(issue_tx, 1)}, content_type="application/json")
    assert ok.status_code == 201, ok.content


def test_an_api_token_signs_only_with_may_sign(issue_tx):
    owner = User.objects.get(username="owner2")
    url = f"/api/multisig/transactions/{issue_tx.pk}/signatures/"
    _, plain = api_token_create(user=owner, name="read only")
    _, signing = api_token_create(user=owner, name="signer", may_sign=True)
    refused = APIClient(HTTP_AUTHORIZATION=f"Token {plain}").post(url, {"signature": _signature(issue_tx, 2)},
                                                                  format="json")
    assert refused.status_code == 403 and "may not approve, sign or propose" in refused.json()["detail"]
    assert Confirmation.objects.filter(transaction=issue_tx).count() == 0
    accepted = APIClient(HTTP_AUTHORIZATION=f"Token {signing}").post(url, {"signature": _signature(issue_tx, 2)},
                                                                     format="json")
    assert accepted.status_code == 201, accepted.content


def test_proposing_in_the_admin_without_a_fresh_step_up_goes_to_the_challenge_and_changes_nothing(chain,
                                                                                                  gold_backing):
    operator = User.objects.get(username="operator")
    draft = proposal_draft(client=chain_client(), kind="issue", actor=operator, amount="10",
                           recipient=dev_account(16).address, deposit_ids=[gold_backing.pk], memo="admin step-up")
    client, journal = _stale("operator"), JournalEntry.objects.count()
    page = f"/admin/issuance/ownerproposal/{draft.pk}/transition/propose/"
    response = client.post(page, {"confirmed": "True"})
    assert response.status_code == 302 and response["Location"].startswith(f"{CHALLENGE}?next=")
    draft.refresh_from_db()
    assert draft.state == ProposalState.DRAFT and draft.transaction is None
    assert JournalEntry.objects.count() == journal
    # The API's propose too.
    api = client.post(f"/api/proposals/{draft.pk}/propose/")
    assert api.status_code == 403 and "step_up" in api.json()
    assert OwnerProposal.objects.get(pk=draft.pk).state == ProposalState.DRAFT


def test_a_compliance_step_without_a_fresh_step_up_is_refused_and_nothing_is_stored(chain):
    from compliance.models import Case

    client = _stale("officer1")
    before = (Case.objects.count(), JournalEntry.objects.count())
    address = Account.create().address
    api = client.post("/api/compliance/cases/", {"address": address, "category": "sanctions", "reference": "x",
                                                 "description": "y"}, content_type="application/json")
    assert api.status_code == 403 and api.json()["step_up"].startswith(CHALLENGE), api.content
    assert client.post("/api/compliance/register/refresh/").status_code == 403
    for page in ("/admin/compliance/case/add/", "/compliance/register/refresh/", "/compliance/screening/"):
        response = client.post(page, {"address": address, "category": "sanctions", "reference": "x"})
        assert response.status_code == 302 and response["Location"].startswith(CHALLENGE), page
    assert (Case.objects.count(), JournalEntry.objects.count()) == before
    # Reading needs no step-up.
    assert client.get("/compliance/register/").status_code == 200
    assert client.get("/api/compliance/cases/").status_code == 200
