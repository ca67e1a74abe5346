"""The compliance API on a real anvil: officers read and write, managers only read, every other role is refused
everywhere; five officer signatures posted over the API approve a blacklist; destroy funds needs the balance typed
exactly; the register shows the chain mismatch flag; the schema describes every endpoint without a warning."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from eth_account import Account
from rest_framework.test import APIClient

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OFFICER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import Confirmation, MultisigTransaction
from backoffice.multisig.services import multisig_transaction_propose, safe_tx_of
from compliance import services
from compliance.models import (
    Case,
    CaseEvidence,
    ComplianceProposal,
    FrozenAddress,
    ScreeningEntry,
    ScreeningImport,
)
from issuance.tests.factories import issue_on_chain

from .factories import case_for, execute_here, officer, officer_sign

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

OUR_PATHS = [
    "/api/compliance/cases/", "/api/compliance/cases/{id}/", "/api/compliance/cases/{id}/evidence/",
    "/api/compliance/cases/{id}/close/", "/api/compliance/proposals/", "/api/compliance/proposals/{id}/",
    "/api/compliance/register/", "/api/compliance/register/refresh/",
]
OTHER_ROLES = ["owner1", "operator", "custodian", "auditor"]


# --- helpers shared with test_admin_and_pages.py ---------------------------------------------

def fresh_address() -> str:
    """An address no other test touches: the session's chain state is shared, its database is not."""
    return str(Account.create().address)


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def snapshot() -> tuple[Any, ...]:
    """Everything compliance (and the multisig kernel under it) could write, to prove a refusal changed nothing."""
    return (Case.objects.count(), CaseEvidence.objects.count(), ComplianceProposal.objects.count(),
            MultisigTransaction.objects.count(), Confirmation.objects.count(), FrozenAddress.objects.count(),
            ScreeningImport.objects.count(), ScreeningEntry.objects.count(), JournalEntry.objects.count(),
            sorted(Case.objects.values_list("pk", "state", "closed_reason")),
            sorted(FrozenAddress.objects.values_list("address", "on_chain_blacklisted", "checked_block")))


def blacklisted(address: str) -> Case:
    """A case whose address the compliance multisig has blacklisted on chain (five signatures, executed)."""
    case = case_for(address)
    proposal = services.compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                                   actor=officer(1))
    for n in (1, 2, 3, 4, 5):
        officer_sign(proposal.transaction, n)
    execute_here(proposal.transaction)
    return case


def mismatch_make() -> str:
    """Real anvil state the register must flag: our register expects the address blacklisted, but a transaction
    executed outside our proposals (straight through the multisig kernel) lifted it on chain."""
    client, token, address = chain_client(), deployment_get().token, fresh_address()
    blacklisted(address)
    rogue = multisig_transaction_propose(client=client, multisig="compliance", to=token,
                                         data=client.token_calldata("removeBlackList", address),
                                         decoded={"function": "removeBlackList", "user": address}, actor=officer(1))
    for n in (1, 2, 3, 4, 5):
        officer_sign(rogue, n)
    execute_here(rogue)
    assert not FrozenAddress.objects.get(address=address).mismatch  # not read since: nobody knows yet
    return address


def officer_signature(typed: dict[str, Any], n: int) -> str:
    """What officer n's wallet returns for eth_signTypedData_v4 over `typed` (officers are dev accounts 8..12)."""
    return "0x" + Account.sign_typed_data(dev_account(OFFICER_INDEXES[n - 1]).key, full_message=typed).signature.hex()


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def as_user(api: APIClient, name: str | None) -> APIClient:
    api.force_authenticate(user=user(name) if name else None)
    return api


@pytest.fixture
def world(chain: Any) -> dict[str, Any]:
    """An open case with a blacklist proposal awaiting signatures, and a second case with nothing yet."""
    proposed = case_for(fresh_address())
    proposal = services.compliance_proposal_create(client=chain_client(), case_id=proposed.pk, action="blacklist",
                                                   actor=officer(1))
    tx = proposal.transaction
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    return {"case": proposed, "proposal": proposal, "bare": case_for(fresh_address()),
            "signature": officer_signature(typed, 1)}


# --- who may do what ------------------------------------------------------------------------

Call = Callable[[APIClient, dict[str, Any]], Any]


def _reads() -> dict[str, Call]:
    return {
        "cases list": lambda c, w: c.get("/api/compliance/cases/"),
        "case": lambda c, w: c.get(f"/api/compliance/cases/{w['case'].pk}/"),
        "proposals list": lambda c, w: c.get("/api/compliance/proposals/"),
        "proposal": lambda c, w: c.get(f"/api/compliance/proposals/{w['proposal'].pk}/"),
        "register": lambda c, w: c.get("/api/compliance/register/"),
    }


def _transaction_url(w: dict[str, Any]) -> str:
    """Where the proposal's transaction is signed: the one transactions API its `transaction.url` names."""
    return f"/api/multisig/transactions/{w['proposal'].transaction_id}/"


def _signing() -> dict[str, Call]:
    return {
        "typed data": lambda c, w: c.get(_transaction_url(w) + "typed-data/"),
        "sign": lambda c, w: c.post(_transaction_url(w) + "signatures/", {"signature": w["signature"]},
                                    format="json"),
    }


def _officer_only() -> dict[str, Call]:
    return {
        "open case": lambda c, w: c.post("/api/compliance/cases/", {
            "address": fresh_address(), "category": "court_order", "reference": "CO-1", "description": "Order"},
            format="json"),
        "evidence": lambda c, w: c.post(f"/api/compliance/cases/{w['case'].pk}/evidence/", {
            "file": SimpleUploadedFile("order.pdf", b"%PDF court order"), "description": "the order"},
            format="multipart"),
        "propose": lambda c, w: c.post("/api/compliance/proposals/", {"case": w["bare"].pk, "action": "blacklist"},
                                       format="json"),
        "refresh": lambda c, w: c.post("/api/compliance/register/refresh/"),
        # Last: closing withdraws the case's proposal, which then takes no signature.
        "close": lambda c, w: c.post(f"/api/compliance/cases/{w['case'].pk}/close/", {"reason": "done"},
                                     format="json"),
    }


def test_an_officer_may_call_every_endpoint(world, api):
    as_user(api, "officer1")
    expected = {"typed data": 200, "open case": 201, "evidence": 201, "close": 200, "propose": 201, "sign": 201,
                "refresh": 200}
    for name, call in _reads().items():
        assert call(api, world).status_code == 200, name
    for name, call in {**_signing(), **_officer_only()}.items():
        response = call(api, world)
        assert response.status_code == expected[name], (name, response.content)


def test_a_manager_reads_everything_and_every_write_is_refused(world, api):
    as_user(api, "manager")
    for name, call in _reads().items():
        assert call(api, world).status_code == 200, name
    before = snapshot()
    for name, call in _officer_only().items():
        response = call(api, world)
        assert response.status_code == 403, (name, response.status_code)
    assert snapshot() == before
    # Managers read every multisig transaction, typed data included; a signature is theirs to post only
    # as a bound signer: refused with the reason, and only the refusal's journal entry is kept.
    assert _signing()["typed data"](api, world).status_code == 200
    refused = _signing()["sign"](api, world)
    assert refused.status_code == 400 and refused.json()["detail"] == "you are not a signer of the compliance multisig"
    after = snapshot()
    assert after[:8] == before[:8] and after[8] == before[8] + 1 and after[9:] == before[9:]
    assert JournalEntry.objects.order_by("-pk").first().action == "multisig.signature_refused"


@pytest.mark.parametrize("name", [*OTHER_ROLES, None])
def test_every_other_role_is_refused_everywhere(world, api, name):
    as_user(api, name)
    before = snapshot()
    for label, call in {**_reads(), **_officer_only()}.items():
        response = call(api, world)
        assert response.status_code == 403, (name, label, response.status_code)
    # The compliance multisig's transactions do not exist for them (anonymous: 403).
    for label, call in _signing().items():
        response = call(api, world)
        assert response.status_code == (403 if name is None else 404), (name, label, response.status_code)
    assert snapshot() == before


# --- cases ----------------------------------------------------------------------------------

def test_an_officer_opens_a_case_adds_evidence_and_closes_it(chain, api):
    as_user(api, "officer2")
    address = fresh_address()
    response = api.post("/api/compliance/cases/", {"address": address, "category": "law_enforcement",
                                                   "reference": "LE-77", "description": "Request from the police"},
                        format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["address"], body["state"], body["opened_by"], body["evidence"]) == (address, "open", "officer2", [])

    content = b"%PDF-1.4 the request, signed"
    response = api.post(f"/api/compliance/cases/{body['id']}/evidence/",
                        {"file": SimpleUploadedFile("request.pdf", content), "description": "the request"},
                        format="multipart")
    assert response.status_code == 201, response.content
    (evidence,) = response.json()["evidence"]
    assert (evidence["file_name"], evidence["sha256"]) == ("request.pdf", hashlib.sha256(content).hexdigest())

    response = api.post(f"/api/compliance/cases/{body['id']}/close/", {"reason": "funds returned"}, format="json")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["closed_reason"]) == ("closed", "funds returned")
    before = snapshot()
    again = api.post(f"/api/compliance/cases/{body['id']}/close/", {"reason": "twice"}, format="json")
    assert again.status_code == 409 and snapshot() == before


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"address": "lower"}, "is not checksummed"),
        ({"address": "zero"}, "zero address"),
        ({"address": "token"}, "token contract"),
        ({"category": "gossip"}, "category"),
        ({"reference": "  "}, "reference"),
    ],
)
def test_a_refused_case_is_a_400_and_stores_nothing(chain, api, payload, message):
    address = fresh_address()
    special = {"lower": address.lower(), "zero": "0x" + "0" * 40, "token": deployment_get().token}
    data = {"address": address, "category": "court_order", "reference": "CO-1", "description": "Order", **payload}
    data["address"] = special.get(data["address"], data["address"])
    as_user(api, "officer1")
    before = snapshot()
    response = api.post("/api/compliance/cases/", data, format="json")
    assert response.status_code == 400 and message in response.json()["detail"], response.content
    assert snapshot() == before


# --- proposals and signatures ---------------------------------------------------------------

def test_five_officer_signatures_posted_over_the_api_approve_a_blacklist(chain, api):
    case = case_for(fresh_address())
    as_user(api, "officer1")
    response = api.post("/api/compliance/proposals/", {"case": case.pk, "action": "blacklist"}, format="json")
    assert response.status_code == 201, response.content
    proposal = response.json()
    assert (proposal["status"], proposal["transaction"]["threshold"]) == ("awaiting_signatures", 5)
    assert proposal["transaction"]["signing_url"] == f"/multisig/{proposal['transaction']['id']}/"

    url = proposal["transaction"]["url"]
    assert url == f"/api/multisig/transactions/{proposal['transaction']['id']}/"
    for n in (1, 2, 3, 4, 5):  # the proposer signs too: five of five
        as_user(api, f"officer{n}")
        typed = api.get(url + "typed-data/").json()
        assert typed["domain"]["verifyingContract"] == deployment_get().compliance_multisig
        response = api.post(url + "signatures/", {"signature": officer_signature(typed, n)}, format="json")
        assert response.status_code == 201, response.content
        assert [c["username"] for c in response.json()["confirmations"]] == [f"officer{i}" for i in range(1, n + 1)]
        body = api.get(f"/api/compliance/proposals/{proposal['id']}/").json()
        assert body["transaction"]["signatures_count"] == n
        assert body["transaction"]["signed_by"] == [f"officer{i}" for i in range(1, n + 1)]
        assert body["status"] == ("approved" if n == 5 else "awaiting_signatures")
    assert MultisigTransaction.objects.get(pk=proposal["transaction"]["id"]).state == "approved"


def test_a_signature_by_another_officers_key_is_a_400_and_stores_nothing(world, api):
    as_user(api, "officer2")
    confirmations = Confirmation.objects.count()
    response = _signing()["sign"](api, world)  # officer1's signature
    assert response.status_code == 400 and "not by your bound address" in response.json()["detail"]
    assert Confirmation.objects.count() == confirmations
    assert JournalEntry.objects.filter(action="multisig.signature_refused").exists()  # only the refusal is kept


def test_destroy_funds_needs_the_balance_typed_exactly(chain, gold_backing, api):
    holder = fresh_address()
    issue_on_chain(amount=3_000_000_000, recipient=holder)  # 3,000 USDKG
    case = blacklisted(holder)
    as_user(api, "officer3")
    url = "/api/compliance/proposals/"
    refusals = [
        ({"confirm_amount": "2999.999999"}, "is not the balance to burn"),
        ({"confirm_amount": "3000.0000001"}, "at most 6 decimals"),
        ({}, "confirm_amount: required to destroy funds"),
        ({"confirm_amount": 3000}, "as a string"),  # a JSON number may already have been rounded by the client
    ]
    for extra, message in refusals:
        before = snapshot()
        response = api.post(url, {"case": case.pk, "action": "destroy_funds", **extra}, format="json")
        assert response.status_code == 400 and message in response.json()["detail"], (extra, response.content)
        assert snapshot() == before, extra

    response = api.post(url, {"case": case.pk, "action": "destroy_funds", "confirm_amount": "3000"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["action"], body["balance_confirmed"], body["balance_confirmed_tokens"]) == (
        "destroy_funds", "3000000000", "3000.000000")
    assert ComplianceProposal.objects.get(pk=body["id"]).transaction.decoded["function"] == "destroyBlackFunds"


def test_destroy_funds_over_the_api_takes_the_balance_as_the_pages_show_it(chain, gold_backing, api):
    holder = fresh_address()
    issue_on_chain(amount=2_500_000_000, recipient=holder)  # 2,500 USDKG
    case = blacklisted(holder)
    as_user(api, "officer4")
    url = "/api/compliance/proposals/"
    refusals = [
        ("1,5", "confirm_amount: '1,5': use a point for decimals (1.5), not a comma"),
        ("1,2345.0", "confirm_amount: '1,2345.0' has misplaced thousands separators"),
        ("abc", "confirm_amount: 'abc' is not a number; write digits with a point for decimals, e.g. 1234.5"),
        ("2,500.0000001", "at most 6 decimals"),
    ]
    for typed, message in refusals:
        before = snapshot()
        response = api.post(url, {"case": case.pk, "action": "destroy_funds", "confirm_amount": typed}, format="json")
        assert response.status_code == 400 and message in response.json()["detail"], (typed, response.content)
        assert snapshot() == before, typed

    response = api.post(url, {"case": case.pk, "action": "destroy_funds", "confirm_amount": "2,500.000000"},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["balance_confirmed"] == "2500000000"


def test_a_list_page_costs_the_same_queries_however_many_proposals(chain, api):
    as_user(api, "manager")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/compliance/cases/").status_code == 200
            assert api.get("/api/compliance/proposals/").status_code == 200
        return len(captured)

    def proposed() -> None:
        case = case_for(fresh_address())
        proposal = services.compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                                       actor=officer(1))
        officer_sign(proposal.transaction, 1)

    proposed()
    queries()  # the first request also loads the user's permissions once
    one = queries()
    for _ in range(3):
        proposed()
    assert queries() == one


# --- the register ---------------------------------------------------------------------------

def test_the_register_flags_a_mismatch_after_an_officer_refreshes_it(chain, api):
    address = mismatch_make()
    agreeing = fresh_address()
    blacklisted(agreeing)
    as_user(api, "manager")
    assert api.post("/api/compliance/register/refresh/").status_code == 403

    as_user(api, "officer4")
    response = api.post("/api/compliance/register/refresh/")
    assert response.status_code == 200
    assert response.json() == {"refreshed": 2, "mismatches": [address]}

    rows = {r["address"]: r for r in api.get("/api/compliance/register/").json()["results"]}
    assert (rows[address]["expected_blacklisted"], rows[address]["on_chain_blacklisted"], rows[address]["mismatch"]) \
        == (True, False, True)
    assert rows[agreeing]["mismatch"] is False
    flagged = api.get("/api/compliance/register/?mismatch=true").json()["results"]
    assert [r["address"] for r in flagged] == [address]


# --- the schema -----------------------------------------------------------------------------

def test_the_schema_describes_every_compliance_endpoint_without_a_warning():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=[path("api/compliance/", include("compliance.api.urls"))]).get_schema(
        request=None, public=True)
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    validate_schema(schema)
    assert sorted(schema["paths"]) == sorted(OUR_PATHS)
    create = schema["components"]["schemas"]["ComplianceProposalCreate"]["properties"]["confirm_amount"]
    assert (create["type"], create["format"]) == ("string", "decimal")


def test_the_project_schema_lists_the_compliance_endpoints(chain, api):
    as_user(api, "manager")
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert set(OUR_PATHS) <= set(response.json()["paths"])
