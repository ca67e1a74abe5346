"""Rewrites of the journal that the database itself refuses (PostgreSQL triggers)."""

import pytest
from django.db import DatabaseError, connection, transaction

from backoffice.journal.models import JournalEntry, JournalHead
from backoffice.journal.selectors import journal_verify
from backoffice.journal.services import journal_entry_hash, journal_record

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the guards are PostgreSQL triggers"),
]


def _stored() -> tuple[list[tuple[int, str]], tuple[int, str]]:
    entries = list(JournalEntry.objects.order_by("seq").values_list("seq", "entry_hash"))
    head = JournalHead.objects.get()
    return entries, (head.last_seq, head.last_hash)


def _refused(sql: str, match: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)


@pytest.mark.parametrize("table", ["journal_journalentry", "journal_journalhead"])
def test_truncating_the_journal_is_refused(table):
    for n in range(3):
        journal_record(action=f"test.{n}")
    before = _stored()
    with connection.cursor() as cursor:  # as a fresh session would: no deferred checks of the test's inserts
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _refused(f"TRUNCATE {table} CASCADE", match="append-only: TRUNCATE refused")
    assert _stored() == before
    assert journal_verify().ok


def _forged_entry(seq: int, prev_hash: str) -> JournalEntry:
    """An entry hashed the way the journal hashes, so only its place in the chain gives it away."""
    template = JournalEntry.objects.order_by("-seq").first()
    assert template is not None
    forged = JournalEntry(seq=seq, created_at=template.created_at, action="test.forged", prev_hash=prev_hash,
                          data={"forged": True})
    forged.entry_hash = journal_entry_hash(forged)
    return forged


def test_a_forged_entry_past_a_gap_with_a_forged_head_is_refused():
    for n in range(3):
        journal_record(action=f"test.{n}")
    before = _stored()
    head = JournalHead.objects.get()
    forged = _forged_entry(head.last_seq + 5, "f" * 64)
    with pytest.raises(DatabaseError, match="does not extend the journal head"), transaction.atomic():
        forged.save(force_insert=True)
        JournalHead.objects.filter(id=1).update(last_seq=forged.seq, last_hash=forged.entry_hash)
    assert _stored() == before
    assert journal_verify().ok


def test_the_head_cannot_name_anything_but_the_newest_entry():
    entries = [journal_record(action=f"test.{n}") for n in range(3)]
    before = _stored()
    # Back to an older entry (to hide the newer ones), to a hash of one's own, or deleted outright.
    with pytest.raises(DatabaseError, match="must name the newest entry"), transaction.atomic():
        JournalHead.objects.filter(id=1).update(last_seq=entries[0].seq, last_hash=entries[0].entry_hash)
    with pytest.raises(DatabaseError, match="must name the newest entry"), transaction.atomic():
        JournalHead.objects.filter(id=1).update(last_hash="e" * 64)
    with pytest.raises(DatabaseError, match="cannot be deleted"), transaction.atomic():
        JournalHead.objects.filter(id=1).delete()
    assert _stored() == before


def test_a_forged_entry_appended_without_moving_the_head_is_reported():
    journal_record(action="test.genuine")
    head = JournalHead.objects.get()
    forged = _forged_entry(head.last_seq + 1, head.last_hash)
    forged.save(force_insert=True)  # the database cannot tell it from a genuine entry...
    check = journal_verify()  # ... but the head, which only journal_record moves with it, disagrees
    assert not check.ok and check.problem == f"the head names #{head.last_seq} but the chain ends at #{forged.seq}"
