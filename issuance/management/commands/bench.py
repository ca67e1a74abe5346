"""`make bench`: speed of the hot paths, printed as a table. Targets live here, never in tests."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from eth_account import Account

from backoffice.chain.devkeys import dev_account
from backoffice.chain.safetx import SafeTx, signature_recover
from backoffice.journal.benchdata import bulk_address, journal_bulk_fill
from backoffice.journal.filters import JournalFilterForm
from backoffice.journal.models import JournalEntry
from backoffice.journal.selectors import (
    CHOICE_COLUMNS,
    journal_distinct_values,
    journal_entries_filter,
    journal_page,
    journal_verify,
)
from backoffice.journal.services import journal_record

SAFE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(microseconds per call, peak KiB allocated over the run)."""
    fn()  # warm caches and imports
    tracemalloc.start()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed / repeat * 1e6, peak / 1024


class Command(BaseCommand):
    help = "Benchmark signature recovery, SafeTx hashing and the journal; prints a table with targets."

    def handle(self, *args: Any, **options: Any) -> None:
        tx = SafeTx(to=SAFE, value=0, data=b"\x40\xc1\x0f\x19" + b"\x00" * 64, operation=0, nonce=3)
        digest = tx.safe_tx_hash(chain_id=31337, safe_address=SAFE)
        signature = Account.sign_typed_data(
            dev_account(1).key, full_message=tx.typed_data(chain_id=31337, safe_address=SAFE)
        ).signature
        rows: list[tuple[str, float, float, float]] = []  # name, us/op, target us/op, peak KiB
        us, kib = _measure(lambda: tx.safe_tx_hash(chain_id=31337, safe_address=SAFE), 2000)
        rows.append(("SafeTx hash (EIP-712)", us, 1000, kib))
        us, kib = _measure(lambda: signature_recover(digest=digest, signature=signature), 2000)
        rows.append(("signature recovery (coincurve)", us, 1000, kib))

        from issuance.barlist import bar_rows_parse

        header = "Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness,Fine Weight\n"
        bar_list = header + "\n".join(f"S{i:06d},Valcambi,2024,400.{i % 1000:03d},999.9," for i in range(10_000))
        us, kib = _measure(lambda: bar_rows_parse(bar_list), 5)
        rows.append(("bar list parse, 10,000 rows", us, 1_000_000, kib))

        with transaction.atomic():
            us, kib = _measure(lambda: journal_record(action="bench.append", data={"n": 1}), 500)
            rows.append(("journal append (locked head)", us, 5000, kib))
            count = JournalEntry.objects.count()
            start = time.perf_counter()
            journal_verify()
            rows.append(("journal verify, per entry", (time.perf_counter() - start) / max(count, 1) * 1e6, 500, 0))
            transaction.set_rollback(True)  # the bench leaves the journal as it found it

        rows += self._journal_list_rows()

        self.stdout.write(f"{'operation':<34}{'us/op':>12}{'target':>12}{'peak KiB':>10}  ok")
        # Targets: a signature check far below a web request's budget; a 10,000-bar list parsed in
        # under a second (the import itself then writes in batches); a journal append in a few ms.
        for name, value, target, peak in rows:
            verdict = "yes" if value <= target else "NO"
            self.stdout.write(f"{name:<34}{value:>12.1f}{target:>12,}{peak:>10.0f}  {verdict}")

    def _journal_list_rows(self) -> list[tuple[str, float, float, float]]:
        """Each filter of the journal list, the last page and the filter choices over a million entries
        (built in one INSERT ... SELECT and rolled back). Target: 100 ms a page."""
        if connection.vendor != "postgresql":
            self.stdout.write("journal list at 1M rows: skipped (needs PostgreSQL; set DATABASE_URL)")
            return []
        rows: list[tuple[str, float, float, float]] = []
        with transaction.atomic():
            last = journal_bulk_fill(1_000_000)
            with connection.cursor() as cursor:  # what autovacuum would have done after such a load
                cursor.execute("ANALYZE journal_journalentry; ANALYZE journal_journalreference")
            cases = {
                "newest page": {},
                "filter: time range": {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
                "filter: actor": {"actor": "bulk3"},
                "filter: action": {"action": "bulk.action5"},
                "filter: object type+id": {"object_type": "bulk.thing", "object_id": "42"},
                "filter: state": {"state": "state2"},
                "filter: address": {"address": bulk_address(7)},
                "search: reason text": {"q": f"reason {last - 5000}"},
                "search: reference": {"q": bulk_address(3)},
            }
            for name, query in cases.items():
                form = JournalFilterForm(query)
                if not form.is_valid():
                    raise CommandError(f"bench filter {name}: {form.errors.as_text()}")
                entries = journal_entries_filter(filters=form.cleaned_data)
                us, kib = _measure(partial(journal_page, entries), 20)
                rows.append((f"journal 1M {name}", us, 100_000, kib))
                if name == "filter: action":
                    us, kib = _measure(partial(journal_page, entries, oldest=True), 20)
                    rows.append(("journal 1M action, last page", us, 100_000, kib))
            everything = JournalEntry.objects.all()
            us, kib = _measure(lambda: journal_page(everything, oldest=True), 20)
            rows.append(("journal 1M last page", us, 100_000, kib))
            us, kib = _measure(lambda: journal_page(everything, before=last // 2), 20)
            rows.append(("journal 1M middle page", us, 100_000, kib))
            us, kib = _measure(lambda: [journal_distinct_values(c) for c in CHOICE_COLUMNS], 20)
            rows.append(("journal 1M choices, uncached", us, 100_000, kib))
            transaction.set_rollback(True)
        return rows
