"""A bar list on its way into the database: streamed from its file into a temporary table, then
inserted by one INSERT ... SELECT.

Why a temporary table: the rows are checked as they are read and written out in batches, so the
file is never in memory whole (BarListReader); and the bar table's own unique index on (refiner,
serial) refuses, as the rows go in, a bar that repeats within the list or is already recorded,
with no lookup of ours on the way. Only a refused list is searched, by queries over the staged
rows (the known bars through that same index), to name every row at fault.

The table belongs to the session: filling it commits batch by batch (the worker's progress is
visible meanwhile, and no lock is held while a long list is read), and the transaction that saves
the bars copies it in whole or not at all. PostgreSQL fills it with COPY; SQLite (the demo's
database) with INSERTs of a batch at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import DatabaseError, IntegrityError, connection, models, transaction

from ..barlist import BarListInvalid, BarListReader, BarRow, RowError, Source, row_errors_merge
from ..models import AuditCount, Bar

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]

BATCH_ROWS = 5_000  # rows written (and progress reported) at a time
COLUMNS = BarRow._fields  # row, serial, refiner, year, gross_oz, fineness, fine_oz
DATA_COLUMNS = COLUMNS[1:]  # what a Bar and an AuditCount take from a row


@dataclass
class StagedBarList:
    """A list whose every row is good, waiting in the staging table; `fine_oz` is its total."""

    fine_oz: Decimal = Decimal(0)


# The SQL below is put together from names in this module and the models' own table and column names
# (never from input: every value goes as a parameter or through COPY), hence the S608 exemptions.


def _table() -> str:
    # Qualified with the session's own schema, so no permanent table of that name is ever touched.
    return ("pg_temp." if connection.vendor == "postgresql" else "temp.") + "issuance_bar_list_staged"


@contextmanager
def bar_list_stage(source: Source, *, progress: Progress | None = None) -> Iterator[StagedBarList]:
    """Read the list into the staging table, `progress(done, total)` after each batch; yields it
    with every row checked, and empties the session of it afterwards, whatever happened.

    Refuses (BarListInvalid) what BarListReader refuses, and then also names every bar that repeats
    within the list, every bad row with its number, in row order. A list whose rows are all good
    but repeats a bar is refused by the insert (staged_bars_insert, staged_counts_insert), with the
    same messages: the bar table's unique index finds a repeat at no cost of its own.
    """
    staged = StagedBarList()
    table = _table()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} (row integer, serial text, refiner text, year integer, "
                       f"gross_oz numeric, fineness numeric, fine_oz numeric)")
    try:
        reader = BarListReader(source)
        batch: list[BarRow] = []
        for row in reader:
            batch.append(row)
            staged.fine_oz += row.fine_oz
            if len(batch) == BATCH_ROWS:
                _rows_write(table, batch)
                batch.clear()
                if progress is not None:
                    progress(reader.rows, max(reader.expected, reader.rows))
        _rows_write(table, batch)
        if progress is not None:
            progress(reader.rows, reader.rows)
        if reader.errors:  # the repeats too, so one refusal lists every bad row
            raise BarListInvalid(row_errors_merge(reader.errors, _repeats(table)))
        yield staged
    finally:
        _drop(table)


def _rows_write(table: str, batch: Sequence[BarRow]) -> None:
    if not batch:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(COLUMNS))
            cursor.executemany(f"INSERT INTO {table} VALUES ({placeholders})", batch)  # noqa: S608


def _repeats(table: str) -> list[RowError]:
    """Every row whose bar an earlier row of the list already has (the same refiner and serial in any
    letter case, as the bar table's unique index compares them), in row order."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT row, refiner, serial, first_row FROM ("  # noqa: S608
                       f" SELECT row, refiner, serial, MIN(row) OVER (PARTITION BY LOWER(refiner), LOWER(serial))"
                       f" AS first_row FROM {table}) AS listed WHERE row > first_row ORDER BY row")
        return [(row, f"bar {refiner} {serial} repeats row {first}") for row, refiner, serial, first in cursor]


def _drop(table: str) -> None:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    except DatabaseError:  # the connection is gone, and the session's temporary table with it
        logger.warning("bar-list staging table not dropped: the database connection failed", exc_info=True)


def _insert(model: type[models.Model], fixed: dict[str, int]) -> int:
    """Copy the staged rows into `model`'s table, in row order, each with the `fixed` column values
    (the row's parents). The other columns are named like the staged ones."""
    columns = ", ".join((*fixed, *DATA_COLUMNS))
    values = ", ".join((*["%s"] * len(fixed), *DATA_COLUMNS))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({columns}) "  # noqa: S608
                       f"SELECT {values} FROM {_table()} ORDER BY row", list(fixed.values()))
        return cursor.rowcount


def staged_bars_insert(staged: StagedBarList, *, deposit_id: int, vault_id: int) -> int:
    """Inside the caller's transaction: the staged rows become the deposit's bars; returns how many.

    Refuses (BarListInvalid, nothing inserted) a bar that repeats within the list and, in a list
    without repeats, a bar already recorded on any deposit, naming each row. The unique index finds
    either as the rows go in; only then are the rows looked for."""
    try:
        with transaction.atomic():
            return _insert(Bar, {"deposit_id": deposit_id, "vault_id": vault_id})
    except IntegrityError as exc:
        table = _table()
        refused = _repeats(table) or _known(table)
        if refused:
            raise BarListInvalid(row_errors_merge(refused)) from exc
        # Refused, yet nothing is recorded now: a concurrent import that took a bar rolled back since.
        raise BarListInvalid(["a bar of this list was recorded by someone else meanwhile; nothing saved"]) from exc


def _known(table: str) -> list[RowError]:
    """The staged rows whose bar is already recorded, in row order. A scalar subquery rather than
    EXISTS: PostgreSQL would turn EXISTS into a hash join over the whole bar table (1.3 s at a
    million bars); this way each row is one probe of the unique index (0.13 s for 100,000 rows)."""
    bar = Bar._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT staged.row, staged.refiner, staged.serial FROM {table} AS staged WHERE ("  # noqa: S608
                       f" SELECT 1 FROM {bar} WHERE LOWER({bar}.refiner) = LOWER(staged.refiner)"
                       f" AND LOWER({bar}.serial) = LOWER(staged.serial) LIMIT 1) IS NOT NULL ORDER BY staged.row")
        return [(row, f"bar {refiner} {serial} is already recorded (a bar backs one deposit only)")
                for row, refiner, serial in cursor]


def staged_counts_insert(staged: StagedBarList, *, audit_id: int) -> int:
    """Inside the caller's transaction: the staged rows become the audit's counts; returns how many.

    Refuses (BarListInvalid, nothing inserted) a bar that repeats within the list, naming each row
    (the counts' own unique constraint would miss a repeat in another letter case)."""
    repeats = _repeats(_table())
    if repeats:
        raise BarListInvalid(row_errors_merge(repeats))
    return _insert(AuditCount, {"audit_id": audit_id})
