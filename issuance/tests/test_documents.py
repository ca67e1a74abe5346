"""Documents of the gold side: every file a transition or upload takes is linked to its record, readable
through the model and downloadable from the admin page afterwards; ordinary long names fit; a name or
a size beyond the limit is refused with a clear message, on every route, before anything is stored."""

from __future__ import annotations

import hashlib
import importlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from backoffice.accounts.roles import Role
from backoffice.journal.models import JournalEntry
from issuance import services
from issuance.models import Audit, BarListImport, Deposit, Vault

from .factories import audit_submitted, bar_csv, deposit_make, upload, user_with_role

pytestmark = pytest.mark.django_db
BARS = [("A100", "400.000", "999.9", ""), ("A101", "401.250", "999.5", "")]
LONG_NAME = "court-order-2026-" + "x" * 179 + ".pdf"  # 200 characters
TOO_LONG_NAME = "y" * 252 + ".pdf"  # 256 characters


def long_named(content: bytes = b"%PDF") -> io.BytesIO:
    """A file sent under TOO_LONG_NAME (a SimpleUploadedFile would cut the name before sending it)."""
    handle = io.BytesIO(content)
    handle.name = TOO_LONG_NAME
    return handle


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def people(roles: None) -> dict[str, Any]:
    return {role: user_with_role(role, username=f"{role}-user") for role in Role.ALL}


@pytest.fixture
def deposit(people: dict[str, Any]) -> Any:
    vault = Vault.objects.create(name="Zurich", location="CH")
    return deposit_make(operator=people[Role.OPERATOR], vault=vault, reference="DOC-1", csv=bar_csv(BARS))


def _stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def _download_link(page: str, model: str, pk: int, field: str) -> str:
    match = re.search(rf'href="(/admin/issuance/{model}/{pk}/file/{field}/)"[^>]*>([^<]+)</a>', page)
    assert match, f"no download link for {field} on the page"
    return match.group(1)


def test_a_receipt_confirmed_in_the_admin_is_linked_and_downloads_under_its_own_name(client, people, deposit):
    client.force_login(people[Role.CUSTODIAN])
    content = b"%PDF-1.4 signed receipt for DOC-1"
    name = "DEP-2026-004 receipt (signed).pdf"
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/transition/receive/",
                           {"receipt": SimpleUploadedFile(name, content)})
    assert response.status_code == 302

    fresh = Deposit.objects.get(pk=deposit.pk)  # as the database has it, not the object the service changed
    assert fresh.receipt_document.name and fresh.receipt_name == name
    with fresh.receipt_document.open("rb") as handle:
        assert handle.read() == content
    assert fresh.receipt_sha256 == hashlib.sha256(content).hexdigest()

    page = client.get(f"/admin/issuance/deposit/{deposit.pk}/change/").content.decode()
    url = _download_link(page, "deposit", deposit.pk, "receipt_document")
    assert name in page
    download = client.get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == content
    assert name.replace(" ", "") in download["Content-Disposition"].replace(" ", "").replace("%20", "")


def test_an_audit_report_is_linked_to_its_audit_and_downloads(client, people):
    vault = Vault.objects.create(name="Geneva", location="CH")
    deposit_make(operator=people[Role.OPERATOR], vault=vault, reference="DOC-2", csv=bar_csv(BARS))
    audit = audit_submitted(operator=people[Role.OPERATOR], auditor=people[Role.AUDITOR], vault=vault,
                            counts_csv=bar_csv(BARS))
    fresh = Audit.objects.get(pk=audit.pk)
    assert fresh.report.name and fresh.report_name == "report.pdf"
    with fresh.report.open("rb") as handle:
        assert handle.read() == b"%PDF audit report"

    client.force_login(people[Role.MANAGER])
    page = client.get(f"/admin/issuance/audit/{audit.pk}/change/").content.decode()
    download = client.get(_download_link(page, "audit", audit.pk, "report"))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF audit report"


def test_documents_are_not_served_to_a_role_that_may_not_view_them(client, people, deposit):
    services.deposit_receive(deposit_id=deposit.pk, receipt=upload(), actor=people[Role.CUSTODIAN])
    url = f"/admin/issuance/deposit/{deposit.pk}/file/receipt_document/"
    client.force_login(people[Role.COMPLIANCE_OFFICER])  # officers have no business with gold documents
    assert client.get(url).status_code in (403, 404)
    client.force_login(people[Role.MANAGER])
    assert client.get(url).status_code == 200
    assert client.get(f"/admin/issuance/deposit/{deposit.pk}/file/created_by/").status_code == 404


def test_a_200_character_name_uploads_through_the_api_and_keeps_its_name(people, deposit):
    api = APIClient()
    api.force_authenticate(people[Role.CUSTODIAN])
    response = api.post(f"/api/deposits/{deposit.pk}/receive/",
                        {"receipt": SimpleUploadedFile(LONG_NAME, b"%PDF long-named receipt")}, format="multipart")
    assert response.status_code == 200, response.content
    assert response.json()["receipt_name"] == LONG_NAME
    fresh = Deposit.objects.get(pk=deposit.pk)
    assert fresh.receipt_name == LONG_NAME and fresh.receipt_document.read() == b"%PDF long-named receipt"


def test_an_ordinary_bar_list_name_uploads_in_the_admin(client, people, deposit):
    draft = services.deposit_create(reference="DOC-3", depositor="X", vault=deposit.vault,
                                    actor=people[Role.OPERATOR])
    client.force_login(people[Role.OPERATOR])
    name = "DEP-2026-004-weight-list-final.csv"
    response = client.post(f"/admin/issuance/deposit/{draft.pk}/upload/",
                           {"file": SimpleUploadedFile(name, bar_csv([("Q1", "400.000", "999.9", "")]).encode())})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = BarListImport.objects.get(deposit=draft)
    assert job.file_name == name and job.file.read().startswith(b"Bar Number")
    page = client.get(f"/admin/issuance/barlistimport/{job.pk}/change/").content.decode()
    download = client.get(_download_link(page, "barlistimport", job.pk, "file"))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"Bar Number")


def test_a_name_over_255_characters_is_refused_everywhere_and_nothing_is_stored(client, people, deposit, media):
    before = _stored_files(media)
    api = APIClient()
    api.force_authenticate(people[Role.CUSTODIAN])
    response = api.post(f"/api/deposits/{deposit.pk}/receive/",
                        {"receipt": long_named()}, format="multipart")
    assert response.status_code == 400
    assert "256 characters" in response.json()["detail"] and "at most 255" in response.json()["detail"]

    client.force_login(people[Role.CUSTODIAN])
    page = client.post(f"/admin/issuance/deposit/{deposit.pk}/transition/receive/",
                       {"receipt": long_named()})
    assert page.status_code == 200 and "at most 255" in page.content.decode()

    fresh = Deposit.objects.get(pk=deposit.pk)
    assert (fresh.state, fresh.receipt_document.name, fresh.receipt_sha256) == ("draft", "", "")
    assert _stored_files(media) == before
    assert not JournalEntry.objects.filter(action="file.uploaded").exists()


def test_a_receipt_over_the_configured_size_is_refused_on_every_route(client, people, deposit, media, settings):
    settings.UPLOAD_MAX_BYTES = {**settings.UPLOAD_MAX_BYTES, "receipt": 1024}
    big = b"%PDF" + b"0" * 1100
    api = APIClient()
    api.force_authenticate(people[Role.CUSTODIAN])
    response = api.post(f"/api/deposits/{deposit.pk}/receive/", {"receipt": SimpleUploadedFile("r.pdf", big)},
                        format="multipart")
    assert response.status_code == 400 and "at most 1.0 KiB" in response.json()["detail"]

    client.force_login(people[Role.CUSTODIAN])
    page = client.post(f"/admin/issuance/deposit/{deposit.pk}/transition/receive/",
                       {"receipt": SimpleUploadedFile("r.pdf", big)})
    assert page.status_code == 200 and "at most 1.0 KiB" in page.content.decode()

    assert Deposit.objects.get(pk=deposit.pk).state == "draft"
    assert _stored_files(media) == []
    # At the limit it is taken.
    response = api.post(f"/api/deposits/{deposit.pk}/receive/",
                        {"receipt": SimpleUploadedFile("r.pdf", big[:1024])}, format="multipart")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("as_body", [False, True], ids=["multipart", "text/csv"])
def test_a_bar_list_over_the_limit_is_refused_by_the_api_however_it_is_sent(people, deposit, settings, as_body):
    settings.UPLOAD_MAX_BYTES = {**settings.UPLOAD_MAX_BYTES, "bar_list": 2048}
    draft = services.deposit_create(reference="DOC-4", depositor="X", vault=deposit.vault,
                                    actor=people[Role.OPERATOR])
    content = bar_csv([(f"L{i:04d}", "400.000", "999.9", "") for i in range(80)]).encode()
    assert len(content) > 2048
    api = APIClient()
    api.force_authenticate(people[Role.OPERATOR])
    if as_body:
        response = api.generic("POST", f"/api/deposits/{draft.pk}/bars/", content, content_type="text/csv")
    else:
        response = api.post(f"/api/deposits/{draft.pk}/bars/", {"file": SimpleUploadedFile("list.csv", content)},
                            format="multipart")
    assert response.status_code == 400, response.content
    assert "at most 2.0 KiB" in response.json()["detail"]
    assert not draft.bars.exists()


def test_the_demo_seed_links_its_receipts_and_report(chain):
    from issuance.demo import demo_gold_seed

    assert "audited deposits" in demo_gold_seed()
    for deposit in Deposit.objects.all():
        assert deposit.receipt_document.name and deposit.receipt_name.startswith("receipt-")
        assert deposit.receipt_document.read().startswith(b"Demo vault receipt")
    audit = Audit.objects.get()
    assert audit.report.name and audit.report.read() == b"Demo audit report"


def test_the_migration_repairs_documents_stored_but_never_linked(people, deposit):
    services.deposit_receive(deposit_id=deposit.pk, receipt=upload("lost.pdf", b"%PDF lost"),
                             actor=people[Role.CUSTODIAN])
    stored = Deposit.objects.get(pk=deposit.pk).receipt_document.name
    Deposit.objects.filter(pk=deposit.pk).update(receipt_document="", receipt_name="")  # as the old code left it

    migration = importlib.import_module("issuance.migrations.0005_stored_files")
    migration.stored_files_repair(apps, None)

    fresh = Deposit.objects.get(pk=deposit.pk)
    assert (fresh.receipt_document.name, fresh.receipt_name) == (stored, "lost.pdf")
    assert fresh.receipt_document.read() == b"%PDF lost"


def test_a_file_beyond_every_limit_is_counted_not_kept_and_refused_by_its_true_size(people, deposit, settings):
    settings.UPLOAD_MAX_BYTES = dict.fromkeys(settings.UPLOAD_MAX_BYTES, 4096)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # so the upload goes through the handler that writes to disk
    api = APIClient()
    api.force_authenticate(people[Role.CUSTODIAN])
    response = api.post(f"/api/deposits/{deposit.pk}/receive/",
                        {"receipt": SimpleUploadedFile("huge.pdf", b"%PDF" + b"0" * 20 * 1024)}, format="multipart")
    assert response.status_code == 400
    assert "20.0 KiB" in response.json()["detail"] and "at most 4.0 KiB" in response.json()["detail"]
    assert Deposit.objects.get(pk=deposit.pk).state == "draft"
