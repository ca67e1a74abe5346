"""Compliance in the admin and on its own pages, on a real anvil: officers open cases, add evidence, propose
(destroy funds only with the balance typed) and close; managers read; other roles never see compliance. The
register page flags a real mismatch with the chain; the screening page imports all rows or none and opens a
sanctions case for a hit in one click."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from backoffice.chain.client import relayer_account
from backoffice.journal.models import JournalEntry
from compliance.models import Case, CaseState, ComplianceProposal, FrozenAddress, ScreeningEntry, ScreeningImport
from issuance.tests.factories import issue_on_chain

from .factories import case_for
from .test_api import OTHER_ROLES, blacklisted, fresh_address, mismatch_make, snapshot, user

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def logged_in(client: Client, name: str) -> Client:
    client.force_login(user(name))
    return client


def _text(response: Any) -> str:
    return response.content.decode()


def _screening_csv(*rows: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("list.csv", ("address,name\n" + "".join(f"{r}\n" for r in rows)).encode())


def _upload(client: Client, upload: SimpleUploadedFile, *, list_name: str = "SDN", listed_on: Any = None) -> Any:
    return client.post("/compliance/screening/", {"file": upload, "source": "OFAC", "list_name": list_name,
                                                  "listed_on": (listed_on or timezone.localdate()).isoformat()})


# --- who sees what --------------------------------------------------------------------------

@pytest.mark.parametrize("name", OTHER_ROLES)
def test_other_roles_never_see_compliance_and_change_nothing(chain, client, name):
    case = case_for(fresh_address())
    logged_in(client, name)
    index = _text(client.get("/admin/"))
    assert "/admin/compliance/" not in index
    before = snapshot()
    for url in ("/admin/compliance/case/", f"/admin/compliance/case/{case.pk}/change/", "/admin/compliance/case/add/",
                f"/admin/compliance/case/{case.pk}/evidence/", f"/admin/compliance/case/{case.pk}/propose/blacklist/",
                "/admin/compliance/complianceproposal/", "/admin/compliance/frozenaddress/",
                "/admin/compliance/screeningimport/", "/admin/compliance/screeningentry/",
                "/compliance/register/", "/compliance/screening/"):
        assert client.get(url).status_code == 403, url
    posts = {
        "/admin/compliance/case/add/": {"address": fresh_address(), "category": "other", "reference": "R",
                                        "description": "D"},
        f"/admin/compliance/case/{case.pk}/propose/blacklist/": {},
        f"/admin/compliance/case/{case.pk}/transition/close/": {"reason": "no"},
        "/compliance/register/refresh/": {},
        "/compliance/screening/open-case/": {"address": fresh_address(), "list_name": "SDN"},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert _upload(client, _screening_csv(fresh_address())).status_code == 403
    assert snapshot() == before


def test_a_manager_reads_compliance_and_changes_nothing(chain, client):
    case = case_for(fresh_address())
    logged_in(client, "manager")
    assert "/admin/compliance/case/" in _text(client.get("/admin/"))
    for url in ("/admin/compliance/case/", "/admin/compliance/complianceproposal/", "/admin/compliance/frozenaddress/",
                "/admin/compliance/screeningimport/", "/admin/compliance/screeningentry/"):
        assert client.get(url).status_code == 200, url
    page = _text(client.get(f"/admin/compliance/case/{case.pk}/change/"))
    assert case.address in page and 'id="case-evidence"' in page
    assert not re.search(r'id="(add-evidence|propose-blacklist|propose-destroy-funds)"', page)
    assert 'name="_fsm_transition_to"' not in page
    register, screening = _text(client.get("/compliance/register/")), _text(client.get("/compliance/screening/"))
    assert 'id="register"' in register and 'id="register-refresh"' not in register
    assert 'id="hits"' in screening and 'id="screening-form"' not in screening

    before = snapshot()
    assert client.get("/admin/compliance/case/add/").status_code == 403
    assert client.post(f"/admin/compliance/case/{case.pk}/change/", {"_fsm_transition_to": "close"}).status_code == 403
    for url, data in {
        f"/admin/compliance/case/{case.pk}/evidence/": {"file": SimpleUploadedFile("e.pdf", b"x")},
        f"/admin/compliance/case/{case.pk}/propose/blacklist/": {},
        f"/admin/compliance/case/{case.pk}/transition/close/": {"reason": "no"},
        "/compliance/register/refresh/": {},
        "/compliance/screening/open-case/": {"address": fresh_address(), "list_name": "SDN"},
    }.items():
        assert client.post(url, data).status_code == 403, url
    assert _upload(client, _screening_csv(fresh_address())).status_code == 403
    assert snapshot() == before
    assert Case.objects.get(pk=case.pk).state == CaseState.OPEN


# --- cases in the admin ---------------------------------------------------------------------

def test_an_officer_opens_a_case_through_the_service_and_a_refusal_is_a_form_error(chain, client):
    logged_in(client, "officer1")
    address = fresh_address()
    before = snapshot()
    for bad, message in ((address.lower(), "is not checksummed"), (relayer_account().address, "the relayer account")):
        response = client.post("/admin/compliance/case/add/", {"address": bad, "category": "court_order",
                                                               "reference": "CO-9", "description": "Order"})
        assert response.status_code == 200 and message in _text(response), bad
    assert snapshot() == before

    response = client.post("/admin/compliance/case/add/", {"address": address, "category": "court_order",
                                                           "reference": "CO-9", "description": "Freeze order"})
    case = Case.objects.get(address=address)
    assert response.status_code == 302 and response["Location"] == f"/admin/compliance/case/{case.pk}/change/"
    assert (case.opened_by.username, case.reference, case.state) == ("officer1", "CO-9", CaseState.OPEN)
    assert JournalEntry.objects.filter(action="compliance.case.opened", object_id=str(case.pk)).exists()


def test_the_case_page_takes_evidence_proposals_and_closing(chain, client):
    case = case_for(fresh_address())
    logged_in(client, "officer2")
    page = _text(client.get(f"/admin/compliance/case/{case.pk}/change/"))
    ids = set(re.findall(r'id="([\w-]+)"', page))
    assert {"add-evidence", "propose-blacklist"} <= ids
    # A free address on chain can only be blacklisted: no button invites what the service would refuse.
    assert not {"propose-unblacklist", "propose-destroy-funds"} & ids

    content = b"%PDF-1.4 freeze order"
    response = client.post(f"/admin/compliance/case/{case.pk}/evidence/",
                           {"file": SimpleUploadedFile("order.pdf", content), "description": "the order"})
    assert response.status_code == 302
    sha256 = hashlib.sha256(content).hexdigest()
    page = _text(client.get(f"/admin/compliance/case/{case.pk}/change/"))
    assert sha256 in page and "order.pdf" in page
    evidence = case.evidence.get()
    download = client.get(f"/compliance/evidence/{evidence.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == content

    response = client.post(f"/admin/compliance/case/{case.pk}/propose/blacklist/", {})
    assert response.status_code == 302
    proposal = ComplianceProposal.objects.get(case=case)
    page = _text(client.get(f"/admin/compliance/case/{case.pk}/change/"))
    assert f'href="/multisig/{proposal.transaction_id}/"' in page and "awaiting_signatures" in page
    before = snapshot()
    again = client.post(f"/admin/compliance/case/{case.pk}/propose/blacklist/", {})
    assert again.status_code == 200 and "already exists" in _text(again) and snapshot() == before
    listing = _text(client.get("/admin/compliance/complianceproposal/"))
    assert f"/multisig/{proposal.transaction_id}/" in listing and "0 of 5" in listing

    # Close: the FSM button leads to the reason form; an empty reason is refused.
    response = client.post(f"/admin/compliance/case/{case.pk}/change/", {"_fsm_transition_to": "close"})
    assert response["Location"] == f"/admin/compliance/case/{case.pk}/transition/close/"
    assert "This field is required" in _text(client.post(response["Location"], {"reason": ""}))
    assert client.post(response["Location"], {"reason": "order lifted"}).status_code == 302
    case.refresh_from_db()
    assert (case.state, case.closed_reason) == (CaseState.CLOSED, "order lifted")
    page = _text(client.get(f"/admin/compliance/case/{case.pk}/change/"))
    assert 'id="propose-blacklist"' not in page  # the service refuses proposals on a closed case


def test_destroy_funds_in_the_admin_shows_the_balance_and_needs_it_typed(chain, gold_backing, client):
    holder = fresh_address()
    issue_on_chain(amount=1_234_500_000, recipient=holder)  # 1,234.5 USDKG
    case = blacklisted(holder)
    logged_in(client, "officer5")
    url = f"/admin/compliance/case/{case.pk}/propose/destroy_funds/"
    page = _text(client.get(url))
    assert re.search(r'id="on-chain-balance">1,234\.500000<', page)

    before = snapshot()
    for typed, message in (("1234.4", "is not the balance to burn"), ("", "This field is required")):
        response = client.post(url, {"confirm_amount": typed})
        assert response.status_code == 200 and message in _text(response), typed
    assert snapshot() == before

    assert client.post(url, {"confirm_amount": "1234.5"}).status_code == 302
    proposal = ComplianceProposal.objects.get(case=case, action="destroy_funds")
    assert int(proposal.balance_confirmed or 0) == 1_234_500_000
    assert "1,234.500000" in _text(client.get(f"/admin/compliance/case/{case.pk}/change/"))


def test_destroy_funds_in_the_admin_takes_the_balance_copied_from_the_page(chain, gold_backing, client):
    holder = fresh_address()
    issue_on_chain(amount=250_000_000_000, recipient=holder)  # 250,000 USDKG
    case = blacklisted(holder)
    logged_in(client, "officer2")
    url = f"/admin/compliance/case/{case.pk}/propose/destroy_funds/"
    shown = re.search(r'id="on-chain-balance">([^<]+)<', _text(client.get(url)))
    assert shown is not None and shown.group(1) == "250,000.000000"

    before = snapshot()
    for typed, message in (("1,5", "use a point for decimals (1.5), not a comma"),
                           ("abc", "&#x27;abc&#x27; is not a number; write digits with a point for decimals")):
        response = client.post(url, {"confirm_amount": typed})
        assert response.status_code == 200 and message in _text(response), typed
    assert snapshot() == before

    assert client.post(url, {"confirm_amount": shown.group(1)}).status_code == 302
    proposal = ComplianceProposal.objects.get(case=case, action="destroy_funds")
    assert int(proposal.balance_confirmed or 0) == 250_000_000_000


# --- the register ---------------------------------------------------------------------------

def test_the_register_page_flags_a_real_mismatch_with_the_chain(chain, client):
    address = mismatch_make()
    agreeing = fresh_address()
    blacklisted(agreeing)
    logged_in(client, "officer3")
    page = _text(client.get("/compliance/register/"))
    assert 'class="register-row mismatch"' not in page  # the register has not read the chain since

    assert client.post("/compliance/register/refresh/").status_code == 302
    page = _text(client.get("/compliance/register/"))
    table = page[page.index('<table id="register">'):]
    rows = {address_: classes for classes, address_ in re.findall(
        r'<tr class="([^"]*)" data-address="(0x[0-9a-fA-F]{40})"', table)}
    assert rows == {address: "register-row mismatch", agreeing: "register-row"}
    assert "MISMATCH" in table

    listing = _text(logged_in(client, "manager").get("/admin/compliance/frozenaddress/"))
    assert listing.count('class="mismatch-flag"') == 1 and "MISMATCH" in listing


def test_the_register_admin_action_refreshes_from_chain(chain, client):
    address = mismatch_make()
    entry = FrozenAddress.objects.get(address=address)
    logged_in(client, "officer1")
    response = client.post("/admin/compliance/frozenaddress/", {"action": "refresh_from_chain",
                                                                "_selected_action": [entry.pk]}, follow=True)
    assert response.status_code == 200 and f"MISMATCH: {address}" in _text(response)
    assert FrozenAddress.objects.get(pk=entry.pk).mismatch

    logged_in(client, "manager")  # managers have no such action: reading the chain into the register is a write
    page = _text(client.get("/admin/compliance/frozenaddress/"))
    assert "refresh_from_chain" not in page


# --- screening ------------------------------------------------------------------------------

def test_a_screening_list_with_a_bad_row_is_refused_whole_and_the_errors_are_shown(chain, client):
    logged_in(client, "officer1")
    before = snapshot()
    response = _upload(client, _screening_csv(fresh_address(), "0x123"))
    assert response.status_code == 200
    errors = _text(response)[_text(response).index('id="upload-errors"'):]
    assert "row 3:" in errors and "is not an address" in errors and "nothing imported" in errors
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = _upload(client, _screening_csv(fresh_address()), listed_on=tomorrow)
    assert "the list date is in the future" in _text(response)
    assert snapshot() == before
    assert (ScreeningImport.objects.count(), ScreeningEntry.objects.count()) == (0, 0)


def test_a_screening_hit_becomes_a_sanctions_case_in_one_click(chain, gold_backing, client):
    holder, empty = fresh_address(), fresh_address()
    issue_on_chain(amount=2_500_000, recipient=holder)  # 2.5 USDKG
    list_name = f"SDN-{uuid.uuid4().hex[:6]}"
    logged_in(client, "officer2")
    response = _upload(client, _screening_csv(f"{holder.lower()},Holder Ltd", f"{empty},Nobody"),
                       list_name=list_name)
    assert response.status_code == 302
    batch = ScreeningImport.objects.get()
    assert (batch.rows, batch.list_name) == (2, list_name)

    page = _text(client.get("/compliance/screening/"))
    hits = page[page.index('<table id="hits">'):page.index("</table>", page.index('<table id="hits">'))]
    assert re.findall(r'<tr class="hit" data-address="(0x[0-9a-fA-F]{40})"', hits) == [holder]
    assert "2.500000" in hits and list_name in hits and 'class="open-case-form"' in hits

    response = client.post("/compliance/screening/open-case/", {"address": holder, "list_name": list_name})
    case = Case.objects.get(address=holder)
    assert response.status_code == 302 and response["Location"] == f"/admin/compliance/case/{case.pk}/change/"
    assert (case.category, case.reference, case.opened_by.username) == ("sanctions", list_name, "officer2")
    page = _text(client.get("/compliance/screening/"))
    assert 'class="open-case-form"' not in page and f"/admin/compliance/case/{case.pk}/change/" in page


def test_a_compliance_proposal_is_named_by_its_reference_and_close_case_stands_apart(chain, client):
    case = case_for(fresh_address())
    logged_in(client, "officer2")
    response = client.post(f"/admin/compliance/case/{case.pk}/propose/blacklist/", {}, follow=True)
    proposal = ComplianceProposal.objects.get(case=case)
    ref = proposal.reference
    assert re.fullmatch(r"CMP-\d{4}", ref)
    assert str(list(response.context["messages"])[0]).startswith(f"{ref} proposed: Blacklist")
    page = _text(client.get(f"/admin/compliance/case/{case.pk}/change/"))
    assert (f'<td class="proposal-reference"><a href="/admin/compliance/complianceproposal/{proposal.pk}/change/">'
            f"{ref}</a></td>") in page
    assert f'<strong class="proposal-status">{proposal.status_label}</strong>' in page
    assert proposal.status_label.startswith("Awaiting ")

    # "Close case" sits in the case's steps, apart from the page's own link, which says where it goes.
    steps = page[page.index('id="fsm-steps"'):]
    assert re.search(r'value="close"[^>]*>\s*Close case\s*</button>', steps)
    assert "Back to the list" in page and ">Close<" not in page
    close = _text(client.get(f"/admin/compliance/case/{case.pk}/transition/close/"))
    assert f"Close case {case.pk} about {case.address}: no proposal can be made on it any more" in close
    assert 'value="Close case"' in close

    listing = _text(client.get("/admin/compliance/complianceproposal/"))
    assert re.search(rf'<a href="/admin/compliance/complianceproposal/{proposal.pk}/change/[^"]*">{ref}</a>', listing)
    export = b"".join(client.get("/admin/compliance/complianceproposal/export/").streaming_content).decode()
    assert export.splitlines()[1].startswith(f"{ref},blacklist,{case.address}")
    body = client.get(f"/api/compliance/proposals/{proposal.pk}/").json()
    assert (body["id"], body["reference"], body["status_label"]) == (proposal.pk, ref, proposal.status_label)
    assert body["transaction"]["reference"] == ref
