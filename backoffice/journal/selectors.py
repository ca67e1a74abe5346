from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, cast

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet

from .models import AnchorState, JournalAnchor, JournalEntry, JournalHead, JournalReference
from .services import CANONICAL_JSON, GENESIS_HASH, HASHED_FIELDS, canonical_sql_parts, journal_values_content


@dataclass(frozen=True)
class JournalCheck:
    entries: int
    broken_seq: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


_VERIFY_CHUNK = 2000
_VERIFY_QUEUE = 2  # chunks read ahead: memory stays flat


def _canonical_entries_sql() -> str:
    """(seq, prev_hash, entry_hash, the canonical JSON before `data`, data as jsonb text, the canonical JSON
    after it) of every entry in order: the server writes the canonical text of every column but `data`, as
    the journal's writer does when it hashes an entry."""
    quote = connection.ops.quote_name
    before, after = canonical_sql_parts(quote)
    return (f"SELECT {quote('seq')}, {quote('prev_hash')}, {quote('entry_hash')}, {before}, {quote('data')}::text, "  # noqa: S608
            f"{after} FROM {quote(JournalEntry._meta.db_table)} ORDER BY {quote('seq')}")


def _chunks_read(pg_connection: Any, sql: str, chunks: queue.Queue[Any], stop: threading.Event) -> None:
    """The reading thread: fetch chunks from a server-side cursor into `chunks` until done or stopped, then
    None (after the exception, if one was raised). psycopg releases the GIL while it waits for the server,
    so the server's own work overlaps the hashing of the previous chunk."""
    try:
        # Binary: integers arrive without parsing; every other column is text already.
        with pg_connection.cursor(name="journal_verify", binary=True) as cursor:
            cursor.execute(sql)
            while not stop.is_set() and (rows := cursor.fetchmany(_VERIFY_CHUNK)):
                chunks.put(rows)
    except BaseException as exc:  # handed to the verifier, which raises it
        chunks.put(exc)
    finally:
        chunks.put(None)


def _canonical_entries() -> Generator[tuple[int, str, str, str], None, None]:
    """(seq, prev_hash, the canonical JSON the hash covers, entry_hash) of every entry in order; the text
    equals CANONICAL_JSON.encode(journal_entry_content(entry)) of the entry as the ORM loads it.

    On PostgreSQL from a server-side cursor (flat memory) read by a thread of its own on this connection's
    psycopg connection, ahead of the hashing. The server builds the canonical text of the plain columns (on
    its own CPU, while this process hashes), and a chunk's `data` is decoded in one json.loads: model
    objects, the ORM's per-row conversions, or a dict and its encoding per entry would each cost about as
    much as hashing the entry. Elsewhere (the SQLite demo's small journal) through the ORM."""
    encode = CANONICAL_JSON.encode
    if connection.vendor != "postgresql":
        rows = JournalEntry.objects.order_by("seq").values_list(*HASHED_FIELDS, "entry_hash")
        seq_at, prev_at = HASHED_FIELDS.index("seq"), HASHED_FIELDS.index("prev_hash")
        for *values, entry_hash in rows.iterator(chunk_size=_VERIFY_CHUNK):
            yield values[seq_at], values[prev_at], encode(journal_values_content(values)), entry_hash
        return
    with transaction.atomic():  # a server-side cursor lives in a transaction
        connection.ensure_connection()
        chunks: queue.Queue[Any] = queue.Queue(maxsize=_VERIFY_QUEUE)
        stop = threading.Event()
        reader = threading.Thread(target=_chunks_read, args=(connection.connection, _canonical_entries_sql(),
                                                             chunks, stop), name="journal-verify-read", daemon=True)
        reader.start()
        done = False
        try:
            while (rows := chunks.get()) is not None:
                if isinstance(rows, BaseException):
                    raise rows
                datas = json.loads("[" + ",".join([row[4] for row in rows]) + "]")
                for (seq, prev_hash, entry_hash, before, _, after), data in zip(rows, datas, strict=True):
                    yield seq, prev_hash, before + encode(data) + after, entry_hash
            done = True
        finally:
            # The verifier stopped early (or failed): let the thread finish with the connection before the
            # transaction ends on it.
            stop.set()
            while not done and chunks.get() is not None:
                pass
            reader.join()


def journal_verify() -> JournalCheck:
    """Walk the chain in order; report the first entry whose number, link or hash does not hold."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    sha256 = hashlib.sha256
    with closing(_canonical_entries()) as entries:
        for seq, linked_to, canonical, entry_hash in entries:
            if seq != expected_seq:
                return JournalCheck(count, expected_seq, f"entry #{expected_seq} is missing (next is #{seq})")
            if linked_to != prev_hash:
                return JournalCheck(count, seq, f"entry #{seq} does not link to the previous entry's hash")
            if sha256(canonical.encode()).hexdigest() != entry_hash:
                return JournalCheck(count, seq, f"entry #{seq} content does not match its hash")
            prev_hash, expected_seq, count = entry_hash, expected_seq + 1, count + 1
    head = JournalHead.objects.filter(id=1).first()
    if head is not None and (head.last_seq, head.last_hash) != (count, prev_hash):
        return JournalCheck(count, count + 1, f"the head names #{head.last_seq} but the chain ends at #{count}")
    return JournalCheck(count, None, "")


def journal_anchor_last() -> JournalAnchor | None:
    """The newest confirmed anchor: what the operator is publicly held to."""
    return JournalAnchor.objects.filter(state=AnchorState.CONFIRMED).order_by("-seq", "-pk").first()


def journal_anchor_figures(anchor: JournalAnchor | None) -> dict[str, Any] | None:
    """An anchor as published (the proof of reserve): enough to find the transaction and compare."""
    if anchor is None:
        return None
    return {"seq": anchor.seq, "entry_hash": anchor.entry_hash, "chain_id": anchor.chain_id,
            "sender": anchor.sender, "tx_hash": anchor.tx_hash, "block_number": anchor.block_number,
            "block_hash": anchor.block_hash, "anchored_at": anchor.confirmed_at}


# --- the journal list ---------------------------------------------------------------------------

PAGE_SIZE = 50
EXPORT_CHUNK = 2000
CHOICES_CACHE_KEY = "journal:filter-choices:v1"
CHOICES_CACHE_SECONDS = 300
CHOICE_COLUMNS = ("action", "object_type", "state_after")


def journal_entries_filter(*, filters: dict[str, Any]) -> QuerySet[JournalEntry]:
    """The entries the (cleaned, see JournalFilterForm) filters select, unordered; each filter has an index."""
    entries = JournalEntry.objects.all()
    if filters.get("since"):
        entries = entries.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        entries = entries.filter(created_at__lt=filters["until"])
    exact = {"actor": "actor_username", "action": "action", "object_type": "object_type",
             "object_id": "object_id", "state": "state_after"}
    for name, column in exact.items():
        if filters.get(name):
            entries = entries.filter(**{column: filters[name]})
    if filters.get("address"):
        entries = entries.filter(pk__in=JournalReference.objects.filter(value=filters["address"].lower())
                                 .values("entry_id"))
    if filters.get("q"):
        # A union of two indexed lookups (trigram on reasons, B-tree on references), not an OR over the
        # table, which PostgreSQL would answer by reading every row.
        in_reason = JournalEntry.objects.filter(reason__icontains=filters["q"]).order_by().values("pk")
        in_refs = JournalReference.objects.filter(value=filters["q"].lower()).order_by().values("entry_id")
        entries = entries.filter(pk__in=in_reason.union(in_refs))
    return entries


@dataclass(frozen=True)
class JournalPage:
    entries: list[JournalEntry]
    newer: int | None  # pass as `after` for the page of newer entries
    older: int | None  # pass as `before` for the page of older entries


def journal_page(entries: QuerySet[JournalEntry], *, before: int | None = None, after: int | None = None,
                 oldest: bool = False, size: int = PAGE_SIZE) -> JournalPage:
    """One page, newest first, by keyset on `seq`: one query whichever page, no COUNT and no OFFSET.

    Default: the newest entries; `before=N`: the page older than seq N; `after=N`: the page newer than
    seq N; `oldest`: the last page. One extra row tells whether there is a page beyond.
    """
    entries = entries.select_related("actor")
    if after is not None or oldest:
        if after is not None:
            entries = entries.filter(seq__gt=after)
        rows = list(entries.order_by("seq")[:size + 1])
        more, rows = len(rows) > size, rows[:size]
        rows.reverse()
        newer = rows[0].seq if more and rows else None
        older = rows[-1].seq if rows and not oldest else None
        return JournalPage(rows, newer, older)
    if before is not None:
        entries = entries.filter(seq__lt=before)
    rows = list(entries.order_by("-seq")[:size + 1])
    more, rows = len(rows) > size, rows[:size]
    return JournalPage(rows, rows[0].seq if before is not None and rows else None,
                       rows[-1].seq if more else None)


def journal_entries_stream(entries: QuerySet[JournalEntry], *, chunk: int = EXPORT_CHUNK) -> Iterator[JournalEntry]:
    """Every entry, newest first, in keyset chunks: memory stays flat and no query grows with the offset."""
    last: int | None = None
    while True:
        page = entries.filter(seq__lt=last) if last is not None else entries
        rows = list(page.order_by("-seq")[:chunk])
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].seq


def journal_distinct_values(column: str) -> list[str]:
    """The distinct values of an indexed column by skipping through its index (a "loose index scan"):
    one probe per value, not a read of the table, so a million rows cost what a hundred do."""
    table = JournalEntry._meta.db_table
    if connection.vendor != "postgresql":  # the SQLite demo: a small journal
        return sorted(v for v in JournalEntry.objects.values_list(column, flat=True).distinct() if v)
    sql = (f'WITH RECURSIVE t(v) AS ((SELECT "{column}" FROM "{table}" ORDER BY 1 LIMIT 1) UNION ALL '  # noqa: S608
           f'SELECT (SELECT "{column}" FROM "{table}" WHERE "{column}" > t.v ORDER BY 1 LIMIT 1) '
           "FROM t WHERE t.v IS NOT NULL) SELECT v FROM t WHERE v IS NOT NULL AND v <> ''")
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def journal_filter_choices() -> dict[str, list[str]]:
    """Known actions, object types and states for the filters: cached a few minutes, and on a miss one
    index skip per column, so showing the filters never reads the journal."""
    choices = cache.get(CHOICES_CACHE_KEY)
    if choices is None:
        choices = {column: journal_distinct_values(column) for column in CHOICE_COLUMNS}
        cache.set(CHOICES_CACHE_KEY, choices, CHOICES_CACHE_SECONDS)
    return cast(dict[str, list[str]], choices)


def journal_head_mark() -> str:
    """"<seq>:<hash>" of the newest entry ("0:" on an empty journal): one indexed read that changes with every
    recorded change. Every change to what the back-office shows writes an entry in the same transaction (a
    reorg's removed approvals too), so a page built after reading this mark is at least as new as the mark:
    pages cached under it are never stale. The hash, not only the number: a test database rolled back to
    the same number holds other entries."""
    head = JournalHead.objects.filter(id=1).values_list("last_seq", "last_hash").first()
    return f"{head[0]}:{head[1]}" if head else "0:"
