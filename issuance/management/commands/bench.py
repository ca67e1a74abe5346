"""`make bench`: speed of the hot paths, printed as a table. Targets live here, never in tests."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from eth_account import Account

from backoffice.chain.devkeys import dev_account
from backoffice.chain.safetx import SafeTx, signature_recover
from backoffice.journal.models import JournalEntry
from backoffice.journal.selectors import journal_verify
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

        self.stdout.write(f"{'operation':<34}{'us/op':>12}{'target':>12}{'peak KiB':>10}  ok")
        # Targets: a signature check far below a web request's budget; a 10,000-bar list parsed in
        # under a second (the import itself then writes in batches); a journal append in a few ms.
        for name, value, target, peak in rows:
            verdict = "yes" if value <= target else "NO"
            self.stdout.write(f"{name:<34}{value:>12.1f}{target:>12,}{peak:>10.0f}  {verdict}")
