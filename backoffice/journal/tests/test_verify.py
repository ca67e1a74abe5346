"""journal_verify's own reader (PostgreSQL): the content it hashes must be exactly what the ORM loads, or a
genuine journal raises a false alarm; and a changed entry must still be caught."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from backoffice.journal.context import Origin
from backoffice.journal.models import JournalEntry, JournalHead
from backoffice.journal.selectors import _canonical_entries, journal_verify
from backoffice.journal.services import (
    CANONICAL_JSON,
    GENESIS_HASH,
    journal_entry_content,
    journal_entry_hash,
    journal_record,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the fast reader is PostgreSQL's"),
]

TRICKY_TEXT = "tab\there, back\\slash, \\N, \\t literally, new\nline, cr\r, \x01\x1f\x7f, Zürich — 金 🪙, \u2028 \"q\""


def _append(**fields: object) -> JournalEntry:
    """An entry written as journal_record writes it, but with the fields journal_record does not let a caller
    choose (the time, the actor's id without a user)."""
    with transaction.atomic():
        head, _ = JournalHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
        entry = JournalEntry(seq=head.last_seq + 1, prev_hash=head.last_hash, **fields)
        entry.data = json.loads(json.dumps(entry.data))
        entry.entry_hash = journal_entry_hash(entry)
        entry.save(force_insert=True)
        head.last_seq, head.last_hash = entry.seq, entry.entry_hash
        head.save(update_fields=["last_seq", "last_hash"])
    return entry


def _tricky_entries() -> list[JournalEntry]:
    return [
        _append(created_at=datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC), action="test.whole-second"),
        _append(created_at=datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=UTC), action="test.one-microsecond"),
        _append(created_at=datetime(2024, 1, 1, 12, 0, 0, 100000, tzinfo=UTC), action="test.trailing-zeros"),
        _append(created_at=datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC), action="test.three-digit-year"),
        _append(created_at=datetime(2024, 6, 1, 2, 30, 15, 250, tzinfo=UTC),
                action="test.\\weird\taction", reason=TRICKY_TEXT, origin_agent="Mozilla/5.0 \\ \t",
                origin_ip="2001:db8::1", actor_username="ünïcödé\tuser", object_type="x\\y", object_id="\\N",
                state_before="a\nb", state_after="\\"),
        _append(created_at=datetime(2024, 6, 1, 2, 30, 16, tzinfo=UTC), action="test.ipv4",
                origin_ip="192.0.2.7", actor_id=None,
                data={"nested": {"list": [1, -2, 2.5, 1e-07, 10**30, None, True, False, "", TRICKY_TEXT],
                                 "z": {}, "a": []}, "é": "\\u0000 literally", "0x": "0xAbC", "tab\tkey": 1}),
        journal_record(action="test.recorded", reason=TRICKY_TEXT, data={"amount": "10.000001", "t": TRICKY_TEXT},
                       origin=Origin(ip="::1", agent=TRICKY_TEXT)),
    ]


def _tamper(entry_id: int, **changes: object) -> None:
    """Bypass the append-only trigger the way only a database superuser could."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    JournalEntry.objects.filter(pk=entry_id).update(**changes)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_the_reader_gives_exactly_the_canonical_text_of_what_the_orm_loads():
    _tricky_entries()
    orm = [(entry.seq, entry.prev_hash, CANONICAL_JSON.encode(journal_entry_content(entry)), entry.entry_hash)
           for entry in JournalEntry.objects.order_by("seq")]
    fast = list(_canonical_entries())
    assert fast == orm
    # Every control character (but NUL, which text columns refuse), the characters JSON escapes and a few
    # beyond ASCII, in every text column the server writes as JSON: its escaping must be Python's, character
    # for character.
    every = "".join(map(chr, range(1, 0x20))) + "\x7f\\\"/'<>&\u00e9\u2028\u2029\ufeff\U0001fa99"
    entry = _append(created_at=datetime(2024, 6, 2, tzinfo=UTC), action=every[:100], actor_username=every,
                    object_type=every[::-1][:100], object_id=every[:100], state_before=every[:50],
                    state_after=every[-50:], reason=every * 3, origin_agent=every, data={every: every})
    assert list(_canonical_entries())[-1] == (
        entry.seq, entry.prev_hash, CANONICAL_JSON.encode(journal_entry_content(JournalEntry.objects.get(pk=entry.pk))),
        entry.entry_hash)
    check = journal_verify()
    assert check.ok and check.entries == len(orm) + 1


@pytest.mark.parametrize("change", [
    {"created_at": datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=UTC)},  # a microsecond on a whole second
    {"created_at": datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC) + timedelta(hours=1)},
    {"reason": TRICKY_TEXT.replace("\\", "/")},
    {"reason": TRICKY_TEXT.replace("\t", " ")},
    {"origin_ip": None},
    {"origin_ip": "2001:db8::2"},
    {"actor_username": ""},
    {"data": {"nested": {"list": [1]}}},
])
def test_a_changed_tricky_entry_is_caught(change):
    entries = _tricky_entries()
    target = entries[0] if "created_at" in change else entries[4]
    if "data" in change:
        target = entries[5]
    _tamper(target.pk, **change)
    check = journal_verify()
    assert (check.entries, check.broken_seq, check.problem) == (
        target.seq - 1, target.seq, f"entry #{target.seq} content does not match its hash")


def test_a_broken_link_is_named():
    entries = [journal_record(action=f"test.{n}") for n in range(3)]
    _tamper(entries[1].pk, prev_hash="a" * 64)
    check = journal_verify()
    seq = entries[1].seq
    assert (check.broken_seq, check.problem) == (seq, f"entry #{seq} does not link to the previous entry's hash")


def _bulk_chain(count: int) -> list[JournalEntry]:
    with transaction.atomic():
        head = JournalHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})[0]
        prev, start, batch = head.last_hash, datetime(2024, 1, 1, tzinfo=UTC), []
        for n in range(count):
            entry = JournalEntry(seq=head.last_seq + n + 1, created_at=start + timedelta(milliseconds=n),
                                 action="test.bulk", data={"n": n}, prev_hash=prev)
            entry.entry_hash = prev = journal_entry_hash(entry)
            batch.append(entry)
        JournalEntry.objects.bulk_create(batch)
        head.last_seq, head.last_hash = batch[-1].seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return batch


def test_a_verifier_stopping_early_leaves_the_connection_to_its_caller():
    entries = _bulk_chain(7000)  # several chunks past the broken entry, so the reader is still reading
    _tamper(entries[100].pk, reason="edited")
    check = journal_verify()
    assert check.broken_seq == entries[100].seq
    assert not [thread for thread in threading.enumerate() if thread.name == "journal-verify-read"]
    assert JournalEntry.objects.filter(action="test.bulk").count() == 7000  # the connection still serves
    assert journal_verify() == check


def test_an_ipv6_origin_written_long_hand_is_hashed_as_the_database_stores_it():
    entry = journal_record(action="test.ipv6", origin=Origin(ip="2001:DB8:0:0:0:0:0:1", agent="curl"))
    assert JournalEntry.objects.get(pk=entry.pk).origin_ip == "2001:db8::1"
    assert journal_verify().ok
