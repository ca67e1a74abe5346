"""`make bench`'s bar-list rows (the kernel's command finds this module and runs them with its local rows).

The product is what the worker runs for an uploaded list, `bar_list_import_run`: read, check, save every
bar and finish the job, committed. Its floor is PostgreSQL's COPY of the same bars (already parsed, as
typed rows) into the bar table, committed: the database's own price of storing those rows with their
indexes and constraints, with no checking at all. Each round starts from the same table: the bars the
previous batch saved are deleted and vacuumed away, untimed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection, transaction

from backoffice.core.bench import Row, bench_rows, count_row, interleaved, peak_growth, time_row
from backoffice.core.bench.environment import BenchEnv, queue_private

from . import bench_follow, bench_served, services  # noqa: F401 - their rows register on import
from .models import Bar, BarListImport, Deposit, ImportKind, ImportState, Vault
from .models.bars import fine_weight_compute

HEADER = "Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness,Fine Weight\n"
REFINERS = ("Valcambi", "PAMP", "Argor-Heraeus", "Metalor", "Heraeus")
COPY_SQL = "COPY issuance_bar (deposit_id, vault_id, serial, refiner, year, gross_oz, fineness, fine_oz) FROM STDIN"


def _bars(count: int) -> list[tuple[str, str, int, Decimal, Decimal]]:
    """(serial, refiner, year, gross oz, fineness) of `count` distinct good-delivery bars."""
    return [(f"BN{n:07d}", REFINERS[n % len(REFINERS)], 2015 + n % 10, Decimal(f"{395 + n % 10}.{n % 1000:03d}"),
             Decimal("999.9") if n % 4 else Decimal("999.5")) for n in range(count)]


@dataclass
class _Import:
    """The bench's vault and, per batch, a fresh draft deposit with its queued import of the same list."""

    operator: User
    vault: Vault
    content: bytes
    copy_rows: list[tuple[Any, ...]]
    deposits: list[int] = field(default_factory=list)  # each batch's deposit
    stored: int | None = None  # the deposit of the bars already stored
    deposit: Deposit | None = None
    job: BarListImport | None = None

    def reset(self) -> None:
        """Delete the bars the previous batch saved (untimed), then a new draft deposit and its queued job."""
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM issuance_bar WHERE deposit_id = ANY(%s)", [self.deposits])
            cursor.execute("VACUUM ANALYZE issuance_bar")
        number = len(self.deposits) + 1
        self.deposit = services.deposit_create(reference=f"BENCH-{self.vault.pk}-{number}", depositor="Bench SA",
                                               vault=self.vault, actor=self.operator)
        self.deposits.append(self.deposit.pk)
        self.job = services.bar_list_import_start(
            kind=ImportKind.DEPOSIT_BARS, target_id=self.deposit.pk, actor=self.operator,
            upload=ContentFile(self.content, name="bench-bar-list.csv"))

    def product(self) -> None:
        assert self.job is not None  # noqa: S101 - reset() made it
        job = services.bar_list_import_run(job_id=self.job.pk)
        if job.state != ImportState.SUCCEEDED:
            raise RuntimeError(f"the bench's bar list was refused: {job.errors[:3]}")

    def floor(self) -> None:
        assert self.deposit is not None  # noqa: S101 - reset() made it
        deposit_id, vault_id = self.deposit.pk, self.vault.pk
        with transaction.atomic(), connection.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for row in self.copy_rows:
                copy.write_row((deposit_id, vault_id, *row))

    def cleanup(self) -> None:
        """The bench's bars, jobs and deposits go: the rows that follow see the demo's gold only."""
        deposits = [*self.deposits, *([self.stored] if self.stored else [])]
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM issuance_bar WHERE deposit_id = ANY(%s)", [deposits])
        BarListImport.objects.filter(deposit_id__in=deposits).delete()
        Deposit.objects.filter(pk__in=deposits).delete()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE issuance_bar")


def _stored_fill(state: _Import, count: int) -> None:
    """`count` bars already stored (one INSERT ... SELECT in a deposit of their own, committed)."""
    stored = services.deposit_create(reference=f"BENCH-{state.vault.pk}-stored", depositor="Bench SA",
                                     vault=state.vault, actor=state.operator)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO issuance_bar (deposit_id, vault_id, serial, refiner, year, gross_oz, fineness, fine_oz) "
            "SELECT %s, %s, 'ST' || lpad(n::text, 8, '0'), (ARRAY['Valcambi', 'PAMP', 'Metalor'])[n %% 3 + 1], "
            "2020, 400.000, 999.90, 399.960 FROM generate_series(1, %s) AS n",
            [stored.pk, state.vault.pk, count])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE issuance_bar")
    state.stored = stored.pk


@bench_rows("local")
def bar_list_rows(env: BenchEnv) -> list[Row]:
    size, stored = env.size(100_000, 2_000), env.size(1_000_000, 20_000)
    bars = _bars(size)
    content = (HEADER + "".join(f"{s},{r},{y},{g},{f},\n" for s, r, y, g, f in bars)).encode()
    copy_rows = [(s, r, y, g, f, fine_weight_compute(g, f)) for s, r, y, g, f in bars]
    operator = get_user_model().objects.get(username="operator")
    vault = Vault.objects.create(name=f"Bench vault {Vault.objects.count() + 1}", location="Bench")
    state = _Import(operator=operator, vault=vault, content=content, copy_rows=copy_rows)
    label = f"{size // 1000:,}k" if size >= 1000 else str(size)
    rows: list[Row] = []
    with queue_private(env):
        try:
            empty_s, copy_s = interleaved(state.product, state.floor, rounds=3, number=1, reset=state.reset,
                                          warmup=False)
            rows.append(time_row(f"bar-list import {label} rows", product_s=empty_s, floor_s=copy_s, max_ratio=2,
                                 unit="s", floor_name="COPY of the same rows"))
            state.reset()
            growth = peak_growth(state.product)  # a run of its own: tracing slows what it traces
            state.reset()
            copy_growth = peak_growth(state.floor)
            rows.append(count_row(f"bar-list import {label}: peak memory growth", product=growth / 2**20, limit=50,
                                  unit="MiB", floor_name="(limit)",
                                  note=f"COPY of the same rows: {copy_growth / 2**20:.1f} MiB"))
            state.reset()
            _stored_fill(state, stored)
            full_s, full_copy_s = interleaved(state.product, state.floor, rounds=3, number=1, reset=state.reset,
                                              warmup=False)
            stored_label = f"{stored // 1_000_000:g}M" if stored >= 1_000_000 else f"{stored // 1000:,}k"
            rows.append(time_row(f"bar-list import {label}, {stored_label} stored", product_s=full_s,
                                 floor_s=full_copy_s, max_ratio=2, unit="s", floor_name="COPY of the same rows"))
            # The issue's own words: "the same time with a million bars already stored". Not interleaved
            # (one table cannot be empty and full at once); both medians come from this run.
            rows.append(time_row(f"bar-list import {label}: {stored_label} stored vs empty", product_s=full_s,
                                 floor_s=empty_s, max_ratio=1.25, unit="s", floor_name="the import, empty table"))
        finally:
            state.cleanup()
            Vault.objects.filter(pk=vault.pk, bars__isnull=True).delete()
    if Bar.objects.filter(vault=vault).exists():
        raise RuntimeError("the bench's bars were not all deleted")
    return rows
