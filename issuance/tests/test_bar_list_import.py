"""Bar lists stream from their file through the session's staging table into the bar table: every bad
row named with its number, nothing saved unless every row is good, lists longer than one batch read
a batch at a time with progress, and the SQLite demo database takes the same path."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from backoffice.accounts.roles import Role
from backoffice.journal.models import JournalEntry
from conftest import ROOT
from issuance import services
from issuance.barlist import BarListInvalid, BarListReader
from issuance.models import AuditCount, Bar, BarListImport, ImportKind, ImportState
from issuance.services import staging

from .factories import VaultFactory, user_with_role

pytestmark = pytest.mark.django_db

HEADER = "Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness,Fine Weight\n"
KNOWN = "is already recorded (a bar backs one deposit only)"


def _list(*rows: str) -> str:
    return HEADER + "".join(f"{row}\n" for row in rows)


def _bars(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:05d},Valcambi,2024,{400 + i % 10}.{i % 1000:03d},999.9," for i in range(count)]


def _state() -> tuple[int, int, int]:
    return Bar.objects.count(), AuditCount.objects.count(), JournalEntry.objects.count()


@pytest.fixture
def operator(roles):
    return user_with_role(Role.OPERATOR)


@pytest.fixture
def deposit(operator):
    return services.deposit_create(reference=f"STREAM-{timezone.now():%f}", depositor="X",
                                   vault=VaultFactory(name="Streaming vault"), actor=operator)


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 100 rows, so a list of a few hundred spans several."""
    monkeypatch.setattr(staging, "BATCH_ROWS", 100)


def _job(operator, deposit, content: str) -> BarListImport:
    """An upload as the admin makes it; the worker's step is run by the test (the message is sent only
    after a commit these tests never make)."""
    return services.bar_list_import_start(kind=ImportKind.DEPOSIT_BARS, target_id=deposit.pk, actor=operator,
                                          upload=SimpleUploadedFile("bars.csv", content.encode()))


def test_bars_already_recorded_are_each_named_by_row_and_nothing_is_saved(operator, deposit, small_batches):
    services.deposit_bars_import(deposit_id=deposit.pk, content=_list(*_bars("K", 150)), actor=operator)
    second = services.deposit_create(reference="STREAM-2", depositor="X", vault=deposit.vault, actor=operator)
    rows = _bars("N", 300)
    rows[1] = "k00007,Valcambi,2024,400,999.9,"  # row 3, in the first batch; another letter case
    rows[250] = "K00149,VALCAMBI,2024,400,999.9,"  # row 252, in the third
    before = _state()
    with pytest.raises(BarListInvalid) as refused:
        services.deposit_bars_import(deposit_id=second.pk, content=_list(*rows), actor=operator)
    assert refused.value.errors == [f"row 3: bar Valcambi k00007 {KNOWN}", f"row 252: bar VALCAMBI K00149 {KNOWN}"]
    assert _state() == before and not second.bars.exists()


def test_a_repeat_within_the_list_and_a_bad_number_are_listed_together_in_row_order(operator, deposit,
                                                                                    small_batches):
    rows = _bars("R", 300)
    rows[1] = "R00001,Valcambi,2024,four hundred,999.9,"  # row 3
    rows[150] = "r00000,Valcambi,2024,400,999.9,"  # row 152 repeats row 2, in another letter case
    rows[299] = "R00000,Valcambi,2024,400,999.9,"  # row 301 too
    before = _state()
    with pytest.raises(BarListInvalid) as refused:
        services.deposit_bars_import(deposit_id=deposit.pk, content=_list(*rows).encode(), actor=operator)
    assert refused.value.errors == ["row 3: gross weight 'four hundred' is not a number",
                                    "row 152: bar Valcambi r00000 repeats row 2",
                                    "row 301: bar Valcambi R00000 repeats row 2"]
    assert _state() == before and not deposit.bars.exists()


def test_a_repeat_in_a_list_of_good_rows_is_named_before_any_bar_already_recorded(operator, deposit, small_batches):
    services.deposit_bars_import(deposit_id=deposit.pk, content=_list("OLD1,Valcambi,2024,400,999.9,"),
                                 actor=operator)
    second = services.deposit_create(reference="STREAM-3", depositor="X", vault=deposit.vault, actor=operator)
    rows = _bars("P", 300)
    rows[10] = "old1,Valcambi,2024,400,999.9,"  # row 12: recorded already, named once the list has no repeat
    rows[280] = "p00005,valcambi,2024,400,999.9,"  # row 282 repeats row 7
    before = _state()
    with pytest.raises(BarListInvalid) as refused:
        services.deposit_bars_import(deposit_id=second.pk, content=_list(*rows), actor=operator)
    assert refused.value.errors == ["row 282: bar valcambi p00005 repeats row 7"]
    assert _state() == before and not second.bars.exists()


def test_a_list_longer_than_a_batch_streams_from_its_file_with_progress(operator, deposit, small_batches, tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(_list(*_bars("F", 250)))
    seen: list[tuple[int, int]] = []
    with path.open("rb") as handle:
        saved = services.deposit_bars_import(deposit_id=deposit.pk, content=handle, actor=operator,
                                             progress=lambda done, total: seen.append((done, total)))
        assert not handle.closed  # the caller's file: the import leaves it to the caller
    assert saved == 250 and deposit.bars.count() == 250
    assert seen == [(100, 250), (200, 250), (250, 250)]
    bars = list(deposit.bars.order_by("pk").values_list("serial", "gross_oz", "fine_oz"))
    assert [serial for serial, _, _ in bars] == [f"F{i:05d}" for i in range(250)]  # in the file's order
    assert (str(bars[7][1]), str(bars[7][2])) == ("407.007", "406.966")
    entry = JournalEntry.objects.filter(action="issuance.deposit.bars_imported").latest("seq")
    assert entry.data["bars"] == 250 and entry.data["fine_oz"] == str(sum(fine for _, _, fine in bars))


class _CountingReader(io.RawIOBase):
    """A file that cannot be read twice (no seek), counting the bytes handed out."""

    def __init__(self, content: bytes) -> None:
        self.content, self.given = content, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer):
        chunk = self.content[self.given:self.given + len(buffer)]
        buffer[:len(chunk)] = chunk
        self.given += len(chunk)
        return len(chunk)


def test_the_reader_hands_out_rows_long_before_it_has_read_the_whole_file():
    content = _list(*_bars("M", 20_000)).encode()
    source = _CountingReader(content)
    reader = BarListReader(io.BufferedReader(source))
    rows = iter(reader)
    first = next(rows)
    assert (first.row, first.serial) == (2, "M00000")
    assert source.given < 64 * 1024 < len(content)  # a chunk or two of an 800 KB file
    assert sum(1 for _ in rows) == 19_999 and reader.rows == 20_000 and not reader.errors


def test_an_import_job_larger_than_a_batch_saves_every_bar_with_its_progress(operator, deposit, small_batches):
    job = services.bar_list_import_run(job_id=_job(operator, deposit, _list(*_bars("J", 250))).pk)
    assert job.state == ImportState.SUCCEEDED, job.errors
    assert (job.bars_saved, job.rows_done, job.rows_total) == (250, 250, 250)
    assert deposit.bars.count() == 250


def test_an_import_job_with_bad_rows_fails_naming_them_and_saves_nothing(operator, deposit, small_batches):
    services.deposit_bars_import(deposit_id=deposit.pk, content=_list("OLD1,Valcambi,2024,400,999.9,"),
                                 actor=operator)
    second = services.deposit_create(reference="STREAM-J2", depositor="X", vault=deposit.vault, actor=operator)
    rows = _bars("B", 250)
    rows[3] = "B00003,Valcambi,2024,400,1001,"  # row 5
    rows[200] = "b00010,Valcambi,2024,400,999.9,"  # row 202 repeats row 12
    bad = _job(operator, second, _list(*rows))
    rows = _bars("C", 250)
    rows[220] = "old1,Valcambi,2024,400,999.9,"  # row 222: on the first deposit already
    known = _job(operator, second, _list(*rows))
    before = _state()
    bad = services.bar_list_import_run(job_id=bad.pk)
    known = services.bar_list_import_run(job_id=known.pk)
    assert (bad.state, bad.errors) == (ImportState.FAILED, ["row 5: fineness 1001 is outside (0, 1000]",
                                                            "row 202: bar Valcambi b00010 repeats row 12"])
    assert (known.state, known.errors) == (ImportState.FAILED, [f"row 222: bar Valcambi old1 {KNOWN}"])
    assert Bar.objects.count() == before[0] and not second.bars.exists()
    assert not JournalEntry.objects.filter(action="issuance.deposit.bars_imported", object_id=str(second.pk)).exists()


def test_an_audit_count_repeating_a_bar_in_another_letter_case_is_refused_and_a_good_one_replaces_the_last(operator):
    auditor = user_with_role(Role.AUDITOR)
    audit = services.audit_plan(vault=VaultFactory(name="Counted vault"), as_of=timezone.localdate(),
                                auditor=auditor, firm="Assay LLP", actor=operator)
    services.audit_start_fieldwork(audit_id=audit.pk, actor=auditor)
    assert services.audit_counts_import(audit_id=audit.pk, content=_list(*_bars("A", 3)), actor=auditor) == 3
    before = _state()
    with pytest.raises(BarListInvalid) as refused:
        services.audit_counts_import(audit_id=audit.pk, actor=auditor,
                                     content=_list("A1,Valcambi,2024,400,999.9,", "a1,Valcambi,2024,400,999.9,"))
    assert refused.value.errors == ["row 3: bar Valcambi a1 repeats row 2"]
    assert _state() == before
    assert services.audit_counts_import(audit_id=audit.pk, content=_list(*_bars("Z", 2)), actor=auditor) == 2
    assert sorted(audit.counts.values_list("serial", flat=True)) == ["Z00000", "Z00001"]


SQLITE_SCRIPT = """
import io, json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from backoffice.accounts.roles import Role
from backoffice.journal.models import JournalEntry
from issuance import services
from issuance.barlist import BarListInvalid
from issuance.models import Bar, Vault

operator = get_user_model().objects.create_user("sqlite-operator", password="x" * 12, is_staff=True)
operator.groups.add(Group.objects.get(name=Role.OPERATOR))
vault = Vault.objects.create(name="SQLite vault")
head = "Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness,Fine Weight\\n"
first = services.deposit_create(reference="SQ-1", depositor="X", vault=vault, actor=operator)
saved = services.deposit_bars_import(deposit_id=first.pk, actor=operator, content=io.BytesIO(
    (head + "".join(f"Q{i},Valcambi,2024,400.125,999.9,\\n" for i in range(12))).encode()))
second = services.deposit_create(reference="SQ-2", depositor="X", vault=vault, actor=operator)
before = (Bar.objects.count(), JournalEntry.objects.count())
refusals = []
for rows in (["N1,Valcambi,2024,400,999.9,", "q3,Valcambi,2024,400,999.9,", "Q7,VALCAMBI,2024,400,999.9,"],
             ["N1,Valcambi,2024,400,999.9,", "N2,Valcambi,2024,x,999.9,", "n1,Valcambi,2024,400,999.9,"]):
    try:
        services.deposit_bars_import(deposit_id=second.pk, actor=operator, content=head + "\\n".join(rows))
    except BarListInvalid as exc:
        refusals.append(exc.errors)
print(json.dumps({"vendor": connection.vendor, "saved": saved, "refusals": refusals,
                  "unchanged": before == (Bar.objects.count(), JournalEntry.objects.count()),
                  "fine_oz": sorted({str(b.fine_oz) for b in first.bars.all()})}))
"""


def test_the_sqlite_demo_database_imports_and_refuses_bar_lists_the_same_way(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL")}
    env |= {"DJANGO_SETTINGS_MODULE": "backoffice.settings.base", "VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "CELERY_BROKER_URL": "filesystem://",
            "PYTHONPATH": str(ROOT)}
    for command in ([sys.executable, "manage.py", "migrate", "-v", "0"], [sys.executable, "-c", SQLITE_SCRIPT]):
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "vendor": "sqlite", "saved": 12, "unchanged": True, "fine_oz": ["400.084"],
        "refusals": [[f"row 3: bar Valcambi q3 {KNOWN}", f"row 4: bar VALCAMBI Q7 {KNOWN}"],
                     ["row 3: gross weight 'x' is not a number", "row 4: bar Valcambi n1 repeats row 2"]],
    }
