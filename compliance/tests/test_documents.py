"""Compliance documents on PostgreSQL: evidence and screening lists with ordinary (and long) names are
stored, linked and downloadable under their own names; over-long names and oversized files are refused
with a clear message before anything is stored."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from eth_account import Account
from rest_framework.test import APIClient

from backoffice.journal.models import JournalEntry
from compliance.models import CaseEvidence, ScreeningImport

from .factories import case_for, officer

LONG_NAME = "court-order-2026-" + "x" * 179 + ".pdf"  # 200 characters


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _stored(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


@pytest.mark.parametrize("name", ["court-order-2026.pdf", LONG_NAME])
def test_evidence_with_an_ordinary_or_200_character_name_is_stored_and_downloads(chain, client, name):
    case = case_for(str(Account.create().address))
    api = APIClient()
    api.force_authenticate(officer(2))
    content = b"%PDF-1.4 order of the court"
    response = api.post(f"/api/compliance/cases/{case.pk}/evidence/",
                        {"file": SimpleUploadedFile(name, content), "description": "the order"}, format="multipart")
    assert response.status_code == 201, response.content
    (evidence,) = response.json()["evidence"]
    assert evidence["file_name"] == name

    stored = CaseEvidence.objects.get(case=case)
    assert stored.file_name == name and stored.file.read() == content
    client.force_login(officer(3))
    download = client.get(evidence["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == content


def test_evidence_added_in_the_admin_keeps_a_200_character_name(chain, client):
    case = case_for(str(Account.create().address))
    client.force_login(officer(1))
    response = client.post(f"/admin/compliance/case/{case.pk}/evidence/",
                           {"file": SimpleUploadedFile(LONG_NAME, b"%PDF admin"), "description": "order"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CaseEvidence.objects.get(case=case).file_name == LONG_NAME


def test_evidence_with_a_256_character_name_or_over_the_size_limit_is_refused(chain, client, media, settings):
    case = case_for(str(Account.create().address))
    api = APIClient()
    api.force_authenticate(officer(2))
    long_named = io.BytesIO(b"%PDF")
    long_named.name = "z" * 252 + ".pdf"
    response = api.post(f"/api/compliance/cases/{case.pk}/evidence/", {"file": long_named}, format="multipart")
    assert response.status_code == 400 and "at most 255" in response.json()["detail"]

    settings.UPLOAD_MAX_BYTES = {**settings.UPLOAD_MAX_BYTES, "evidence": 2048}
    big = SimpleUploadedFile("big.pdf", b"%PDF" + b"0" * 4096)
    response = api.post(f"/api/compliance/cases/{case.pk}/evidence/", {"file": big}, format="multipart")
    assert response.status_code == 400 and "at most 2.0 KiB" in response.json()["detail"]
    client.force_login(officer(1))
    big.seek(0)
    page = client.post(f"/admin/compliance/case/{case.pk}/evidence/", {"file": big, "description": "x"})
    assert page.status_code == 200 and "at most 2.0 KiB" in page.content.decode()

    assert not CaseEvidence.objects.exists() and _stored(media) == []
    assert not JournalEntry.objects.filter(action="file.uploaded").exists()


def test_a_screening_list_with_an_ordinary_name_imports_and_keeps_it(chain, client):
    client.force_login(officer(1))
    upload = SimpleUploadedFile("ofac-sdn-2026-11.csv", f"address,name\n{Account.create().address},X\n".encode())
    response = client.post("/compliance/screening/", {"file": upload, "source": "OFAC", "list_name": "SDN",
                                                      "listed_on": timezone.localdate().isoformat()})
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = ScreeningImport.objects.get()
    assert batch.file_name == "ofac-sdn-2026-11.csv" and batch.file.read().startswith(b"address,name")


def test_a_screening_list_over_its_limit_is_refused_before_it_is_read(chain, client, media, settings):
    settings.UPLOAD_MAX_BYTES = {**settings.UPLOAD_MAX_BYTES, "screening": 1024}
    rows = "".join(f"{Account.create().address},Name {i}\n" for i in range(40))
    client.force_login(officer(1))
    response = client.post("/compliance/screening/", {
        "file": SimpleUploadedFile("sdn.csv", ("address,name\n" + rows).encode()), "source": "OFAC",
        "list_name": "SDN", "listed_on": timezone.localdate().isoformat()})
    assert response.status_code == 200 and "at most 1.0 KiB" in response.content.decode()
    assert not ScreeningImport.objects.exists() and _stored(media) == []
