"""Many journal rows at once, for the scale tests and `make bench` only: one INSERT ... SELECT, not a
million calls of journal_record.

The rows are inserted, never updated, so the append-only triggers stay on; the first links to the head
and the head is then moved to the last, as the head guard demands. Their hashes are not real hashes
(journal_verify would report them): the caller must roll them back, so this refuses to run outside a
transaction it could roll back.
"""

from __future__ import annotations

from django.db import connection

from .models import JournalHead
from .services import GENESIS_HASH

ADDRESSES = 50  # every 100th bulk entry concerns address number (seq // 100) % ADDRESSES


def bulk_address(number: int) -> str:
    return "0x" + f"{number:x}".rjust(40, "0")


def journal_bulk_fill(count: int) -> int:
    """Append `count` synthetic entries after the head; returns the new last seq.

    Actors bulk0..bulk6, actions bulk.action0..12, object bulk.thing:<seq % 5000>, states state0..4,
    a reason "bulk reason <seq>" on every 1000th, an address reference on every 100th.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("journal_bulk_fill writes fake entries: call it inside a transaction that is rolled back")
    head, _ = JournalHead.objects.select_for_update().get_or_create(
        id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
    base = head.last_seq
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO journal_journalentry (seq, created_at, actor_id, actor_username, action, object_type,
                object_id, state_before, state_after, reason, origin_ip, origin_agent, data, prev_hash, entry_hash)
            SELECT n, now() - interval '1 day' + n * interval '1 millisecond', NULL, 'bulk' || (n %% 7),
                'bulk.action' || (n %% 13), 'bulk.thing', (n %% 5000)::text, '', 'state' || (n %% 5),
                CASE WHEN n %% 1000 = 0 THEN 'bulk reason ' || n ELSE '' END, NULL, '', '{}',
                CASE WHEN n = %(first)s THEN %(head_hash)s ELSE md5('p' || n) || md5('q' || n) END,
                md5('e' || n) || md5('f' || n)
            FROM generate_series(%(first)s, %(last)s) AS n
            """,
            {"first": base + 1, "last": base + count, "head_hash": head.last_hash},
        )
        cursor.execute(
            """
            INSERT INTO journal_journalreference (entry_id, value)
            SELECT id, '0x' || lpad(to_hex((seq / 100) %% %(addresses)s), 40, '0') FROM journal_journalentry
            WHERE seq BETWEEN %(first)s AND %(last)s AND seq %% 100 = 0
            """,
            {"first": base + 1, "last": base + count, "addresses": ADDRESSES},
        )
        cursor.execute("SELECT entry_hash FROM journal_journalentry WHERE seq = %s", [base + count])
        last_hash = cursor.fetchone()[0]
    head.last_seq, head.last_hash = base + count, last_hash
    head.save(update_fields=["last_seq", "last_hash"])
    return base + count
