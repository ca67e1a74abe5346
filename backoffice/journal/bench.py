"""`make bench`'s journal rows (the kernel's command finds this module and runs them with its local rows):
an append, committed; verification per entry; the list's pages over a million entries. Each against its
floor, in the same run (interleaved, median)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.core.bench import Row, bench_rows, interleaved, time_row
from backoffice.core.bench.environment import BenchEnv

from .benchdata import bulk_address, journal_bulk_fill
from .filters import JournalFilterForm
from .models import JournalEntry, JournalHead
from .selectors import journal_entries_filter, journal_page, journal_verify
from .services import GENESIS_HASH, journal_content_hash, journal_entry_hash, journal_record


def _entry_data(n: int) -> dict[str, Any]:
    """What a signature's acceptance journals: an owner address, a count, the threshold."""
    return {"owner": dev_account(OWNER_INDEXES[n % 7]).address, "count": n % 3 + 1, "threshold": 3}


@bench_rows("local")
def journal_append_row(env: BenchEnv) -> list[Row]:
    """journal_record, committed (in its own transaction, as a service outside any other writes it),
    against the floor of a durable hash-chained append: the same hashing and one INSERT of the same row
    into a table of the journal's shape and indexes, committed. What the product adds is the chain's
    own price: the head locked and moved (gapless numbering under concurrent writers) and the entry's
    references for lookup."""
    with connection.cursor() as cursor:  # the journal's columns and indexes, without its triggers and head
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_journal_floor (LIKE journal_journalentry INCLUDING ALL)")
    seq = itertools.count(1)
    prev = [GENESIS_HASH]

    def floor() -> None:
        n, created_at = next(seq), timezone.now().isoformat()
        content = {"seq": n, "created_at": created_at, "actor_id": None, "actor_username": "",
                   "action": "bench.append", "object_type": "", "object_id": "", "state_before": "",
                   "state_after": "", "reason": "", "origin_ip": None, "origin_agent": "", "data": _entry_data(n),
                   "prev_hash": prev[0]}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        entry_hash = hashlib.sha256(canonical.encode()).hexdigest()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_journal_floor (seq, created_at, actor_id, actor_username, action, object_type, "
                "object_id, state_before, state_after, reason, origin_ip, origin_agent, data, prev_hash, entry_hash) "
                "VALUES (%s, %s, NULL, '', 'bench.append', '', '', '', '', '', NULL, '', %s, %s, %s)",
                [n, created_at, json.dumps(content["data"]), prev[0], entry_hash])
        prev[0] = entry_hash

    count = itertools.count()
    product, floor_s = interleaved(lambda: journal_record(action="bench.append", data=_entry_data(next(count))),
                                   floor, rounds=7, number=env.size(50, 5))
    # 2x: the floor is one statement and a commit, and so is the product: its statement (prepared once per
    # connection) also locks the head, hashes the entry, inserts its references and moves the head.
    return [time_row("journal append (committed)", product_s=product, floor_s=floor_s, max_ratio=2, unit="ms",
                     floor_name="hash + 1 INSERT, committed")]


def journal_chain_extend(count: int) -> int:
    """Append `count` genuine entries (real hashes, chained) in bulk and commit; returns the last seq.
    For the verify row: journal_record one by one would take minutes for what this writes in seconds."""
    with transaction.atomic():
        head, _ = JournalHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
        prev, seq, batch = head.last_hash, head.last_seq, []
        start = timezone.now() - timedelta(days=1)
        for n in range(count):
            seq += 1
            entry = JournalEntry(seq=seq, created_at=start + timedelta(milliseconds=n), actor_username="bench",
                                 action="bench.verify", object_type="multisig.multisigtransaction",
                                 object_id=str(n % 500), state_after="approved" if n % 3 else "",
                                 reason="bench entry" if n % 10 == 0 else "", origin_agent="",
                                 data=json.loads(json.dumps(_entry_data(n))), prev_hash=prev)
            entry.entry_hash = journal_entry_hash(entry)
            prev = entry.entry_hash
            batch.append(entry)
            if len(batch) == 2000:
                JournalEntry.objects.bulk_create(batch)
                batch = []
        JournalEntry.objects.bulk_create(batch)
        head.last_seq, head.last_hash = seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return seq


@bench_rows("local")
def journal_verify_row(env: BenchEnv) -> list[Row]:
    """journal_verify over the whole chain, per entry, against hashing alone: the canonical JSON and its
    SHA-256 of each entry's content, already in memory, by the product's own encoder (what no verification
    can skip). The verifier reads the entries from the database as well, and lets the server write the
    plain columns' canonical text while it hashes: on a machine of one CPU that would be plain cost."""
    journal_chain_extend(env.size(50_000, 2_000))
    contents = [
        {"seq": e.seq, "created_at": e.created_at.isoformat(), "actor_id": e.actor_id,
         "actor_username": e.actor_username, "action": e.action, "object_type": e.object_type,
         "object_id": e.object_id, "state_before": e.state_before, "state_after": e.state_after,
         "reason": e.reason, "origin_ip": e.origin_ip, "origin_agent": e.origin_agent, "data": e.data,
         "prev_hash": e.prev_hash}
        for e in JournalEntry.objects.order_by("seq").iterator(chunk_size=2000)
    ]
    check = journal_verify()
    if not check.ok:
        raise RuntimeError(f"the bench's journal does not verify: {check}")

    def hashing() -> None:
        for content in contents:
            journal_content_hash(content)

    product, floor = interleaved(journal_verify, hashing, rounds=env.size(5, 3), number=1)
    per = len(contents)
    return [time_row("journal verify, per entry", product_s=product / per, floor_s=floor / per, max_ratio=1.5,
                     floor_name="canonical JSON + SHA-256", note=f"{per:,} entries", entries=per)]


@dataclass(frozen=True)
class _ListCase:
    name: str
    query: dict[str, str]
    floor_where: str
    floor_params: list[Any]
    oldest: bool = False
    before: int | None = None


_PAGE_SQL = ("SELECT e.*, u.* FROM journal_journalentry e LEFT OUTER JOIN auth_user u ON u.id = e.actor_id "
             "WHERE {where} ORDER BY e.seq {order} LIMIT 51")


@bench_rows("local")
def journal_list_rows(env: BenchEnv) -> list[Row]:
    """Each filter of the journal list, and the last and a middle page, over a million entries (one
    INSERT ... SELECT, rolled back), against the same page fetched by hand-written SQL that walks the
    right index (all columns, the actor joined). Target 4x: what the ORM adds over the raw query is
    building 50 objects with their actor, a millisecond or so, 2-3x a raw page here; a page that misses
    its index reads the million rows (100x and more), one that queries per row lands near 10x."""
    size = env.size(1_000_000, 20_000)
    label = f"{size / 1_000_000:g}M" if size >= 1_000_000 else f"{size // 1000}k"
    rows: list[Row] = []
    with transaction.atomic():
        last = journal_bulk_fill(size)
        with connection.cursor() as cursor:  # what autovacuum would have done after such a load
            cursor.execute("ANALYZE journal_journalentry; ANALYZE journal_journalreference")
        since, until = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
        in_refs = "e.id IN (SELECT entry_id FROM journal_journalreference WHERE value = %s)"
        reason_q = f"reason {last - 5000}"
        cases = [
            _ListCase("newest page", {}, "TRUE", []),
            _ListCase("filter: time range", {"since": since, "until": until},
                      "e.created_at >= %s AND e.created_at < %s", [since, until]),
            _ListCase("filter: actor", {"actor": "bulk3"}, "e.actor_username = %s", ["bulk3"]),
            _ListCase("filter: action", {"action": "bulk.action5"}, "e.action = %s", ["bulk.action5"]),
            _ListCase("filter: action, last page", {"action": "bulk.action5"}, "e.action = %s", ["bulk.action5"],
                      oldest=True),
            _ListCase("filter: object type+id", {"object_type": "bulk.thing", "object_id": "42"},
                      "e.object_type = %s AND e.object_id = %s", ["bulk.thing", "42"]),
            _ListCase("filter: state", {"state": "state2"}, "e.state_after = %s", ["state2"]),
            _ListCase("filter: address", {"address": bulk_address(7)}, in_refs, [bulk_address(7)]),
            _ListCase("search: reason text", {"q": reason_q},
                      "e.id IN (SELECT id FROM journal_journalentry WHERE UPPER(reason) LIKE UPPER(%s) "
                      "UNION SELECT entry_id FROM journal_journalreference WHERE value = %s)",
                      [f"%{reason_q}%", reason_q]),
            _ListCase("search: reference", {"q": bulk_address(3)},
                      "e.id IN (SELECT id FROM journal_journalentry WHERE UPPER(reason) LIKE UPPER(%s) "
                      "UNION SELECT entry_id FROM journal_journalreference WHERE value = %s)",
                      [f"%{bulk_address(3)}%", bulk_address(3)]),
            _ListCase("last page", {}, "TRUE", [], oldest=True),
            _ListCase("middle page", {}, "e.seq < %s", [last // 2], before=last // 2),
        ]
        for case in cases:
            form = JournalFilterForm(case.query)
            if not form.is_valid():
                raise RuntimeError(f"bench filter {case.name}: {form.errors.as_text()}")
            entries = journal_entries_filter(filters=form.cleaned_data)
            page_sql = _PAGE_SQL.format(where=case.floor_where, order="ASC" if case.oldest else "DESC")

            def product(entries: Any = entries, case: _ListCase = case) -> int:
                return len(journal_page(entries, oldest=case.oldest, before=case.before).entries)

            def floor(sql: str = page_sql, params: list[Any] = case.floor_params) -> int:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    return len(cursor.fetchall()[:50])

            if product() != floor():
                raise RuntimeError(f"journal list {case.name}: the floor's page is not the product's")
            product_s, floor_s = interleaved(product, floor, rounds=5, number=env.size(10, 3))
            rows.append(time_row(f"journal {label}: {case.name}", product_s=product_s, floor_s=floor_s,
                                 max_ratio=4, unit="ms", floor_name="raw SQL by the index"))
        transaction.set_rollback(True)  # fake hashes: never committed
    return rows
