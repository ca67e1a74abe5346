"""Parsing LBMA-style bar lists (CSV): every row checked, every error reported with its row number.

Cells may be separated by commas, semicolons (a spreadsheet set to a European locale) or tabs: the
separator is the one that splits the header row into the known columns. A header split by none of them
is refused saying so. `bar_list_template_csv` is the file people are given to fill in.

`BarListReader` reads a list row by row as it decodes the file (an upload of 100,000 bars never sits
in memory whole); `bar_rows_parse` is the same reading gathered into a list, for small lists.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import IO, NamedTuple

from .models.bars import fine_weight_compute

# Accepted header names (case and spacing ignored) for each field; LBMA's own names first.
COLUMNS: dict[str, tuple[str, ...]] = {
    "serial": ("bar number", "serial", "serial number", "bar no"),
    "refiner": ("refiner", "brand", "refiner brand"),
    "year": ("year of manufacture", "year"),
    "gross_oz": ("gross weight", "gross weight oz", "gross oz", "gross_oz", "gross weight (troy oz)"),
    "fineness": ("assay", "fineness", "assay/fineness", "fineness (parts per thousand)"),
    "fine_oz": ("fine weight", "fine weight oz", "fine oz", "fine_oz", "fine weight (troy oz)"),
}
# The separators a bar list may use, as people name them.
DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
TEMPLATE_HEADER = ["Bar Number", "Refiner", "Year of Manufacture", "Gross Weight (troy oz)",
                   "Fineness (parts per thousand)", "Fine Weight (troy oz)"]
TEMPLATE_EXAMPLE = ["AB123456", "Valcambi SA", "2023", "400.125", "999.9", "400.084"]
REQUIRED = ("serial", "refiner", "year", "gross_oz", "fineness")
MAX_ROWS = 100_000
MAX_GROSS_OZ = Decimal(1000)  # the largest bars are about 430 oz; more is a typo, not a bar
FINE_TOLERANCE = Decimal("0.001")  # a vault's own fine weight may round where we cut
# A cell starting with one of these is a formula to a spreadsheet: never stored, never exported.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LENGTHS = {"serial": 50, "refiner": 100}
NOT_UTF8 = "the file is not UTF-8 text (save it as CSV UTF-8)"
NUL = "contains a NUL character (byte 0); save the list again as CSV UTF-8"
ZERO, THOUSAND = Decimal(0), Decimal(1000)
# Plain decimals ("400.125"), nearly every cell of a real list, are read without the checks that only
# find something wrong in other spellings; anything else takes the full path and its messages.
PLAIN = {places: re.compile(rf"[0-9]+(?:\.[0-9]{{1,{places}}})?").fullmatch for places in (2, 3)}


class BarRow(NamedTuple):
    """One good row. A tuple in the staging table's column order, so it is written as it is."""

    row: int
    serial: str
    refiner: str
    year: int
    gross_oz: Decimal
    fineness: Decimal
    fine_oz: Decimal


class BarListInvalid(ValueError):
    """The bar list has errors; `errors` lists every one as "row N: ...". Nothing was saved."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = "; ".join(errors[:20]) + (f"; and {len(errors) - 20} more" if len(errors) > 20 else "")
        super().__init__(f"{len(errors)} error(s) in the bar list: {shown}")


RowError = tuple[int, str]  # (row number, what is wrong with it)


def row_errors_merge(*sorted_errors: Iterable[RowError]) -> list[str]:
    """Errors found by several checks, each list already in row order, as one list in row order."""
    return [f"row {number}: {message}" for number, message in heapq.merge(*sorted_errors, key=lambda e: e[0])]


def _decimal(value: str, field: str, places: int) -> Decimal:
    if PLAIN[places](value):
        return Decimal(value)
    if "," in value:
        raise ValueError(f"{field} '{value}' has a comma: write decimals with a point and no thousands separators")
    try:
        number = Decimal(value.strip())
    except InvalidOperation as exc:
        raise ValueError(f"{field} '{value}' is not a number") from exc
    if not number.is_finite():
        raise ValueError(f"{field} '{value}' is not a number")
    if number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise ValueError(f"{field} '{value}' has more than {places} decimals")
    return number


def _header_map(header: list[str]) -> tuple[dict[str, int], list[str]]:
    normalised = [" ".join(h.strip().lower().replace("_", " ").split()) for h in header]
    found: dict[str, int] = {}
    for field, names in COLUMNS.items():
        for name in names:
            if name.replace("_", " ") in normalised:
                found[field] = normalised.index(name.replace("_", " "))
                break
    missing = [f"missing column '{COLUMNS[f][0]}'" for f in REQUIRED if f not in found]
    return found, missing


def _delimiter_detect(first: str) -> str:
    """The separator that splits the header row (`first`, the first line that is not blank) into the
    known columns; if none does, the one that splits it most (its missing columns are then reported),
    and a header split by none of them is refused."""
    for delimiter in DELIMITERS:
        if not _header_map(next(csv.reader([first], delimiter=delimiter), []))[1]:
            return delimiter
    counts = {d: first.count(d) for d in DELIMITERS}
    if first.strip() and not any(counts.values()):
        shown = first.strip()[:80]
        raise BarListInvalid([f"row 1: the header '{shown}' is not separated by commas, semicolons or tabs; "
                              f"save the list as CSV, or start from the bar-list template"])
    return max(counts, key=lambda d: counts[d])


def bar_list_template_csv() -> str:
    """The file to fill in: the columns with their units, and one example bar (replace it with yours)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(TEMPLATE_EXAMPLE)
    return out.getvalue()


Source = bytes | str | IO[bytes]


def _rows_expected(source: Source) -> int:
    """About how many bars the list has (its lines less the header), to show progress against; 0 when
    the file cannot be read twice. Counted on the bytes, a megabyte at a time."""
    if isinstance(source, bytes | str):
        newline: bytes | str = b"\n" if isinstance(source, bytes) else "\n"
        lines = source.count(newline) + (0 if source.endswith(newline) else 1)  # type: ignore[arg-type]
        return max(lines - 1, 0)
    if not source.seekable():
        return 0
    start, lines, last = source.tell(), 0, b"\n"
    for chunk in iter(lambda: source.read(2**20), b""):
        lines, last = lines + chunk.count(b"\n"), chunk[-1:]
    source.seek(start)
    return max(lines + (0 if last == b"\n" else 1) - 1, 0)


def _file_unwrap(handle: IO[bytes]) -> IO[bytes]:
    """The io file under a Django File (a stored or uploaded file wraps one, sometimes twice, and a
    temporary file once more): read through the wrappers, every line would pay for their
    Python-level `closed` properties."""
    while not isinstance(handle, io.IOBase) and getattr(handle, "file", None) is not None:
        handle = handle.file  # type: ignore[attr-defined]
    return handle


class BarListReader:
    """One pass over a bar list, decoding and checking it a row at a time, in constant memory.

    Iterating yields every good row (a BarRow); every bad row is kept in `errors` as (row number,
    message), in row order. What is wrong with the file as a whole ends the iteration with
    BarListInvalid, once it is certain: a file that is not UTF-8 or not CSV, a header separated by
    something else than commas, semicolons or tabs, a NUL character in any cell (every row that has
    one is named), a missing column, no bars, more than MAX_ROWS bars. `rows` counts the bars read
    so far (blank lines are skipped); `expected` is about how many there are in all. Row numbers
    count the header as row 1, like a spreadsheet. A serial that repeats within the file is the
    caller's to find (bar_rows_parse here, the staging table on the way into the database)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.errors: list[RowError] = []
        self.rows = 0
        self.expected = _rows_expected(source)

    def __iter__(self) -> Iterator[BarRow]:
        if isinstance(self.source, str):
            yield from self._read(io.StringIO(self.source))
            return
        binary = io.BytesIO(self.source) if isinstance(self.source, bytes) else _file_unwrap(self.source)
        # newline="": line ends reach the csv module as they are, so a quoted cell may hold one.
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        try:
            yield from self._read(text)
        except UnicodeDecodeError as exc:
            raise BarListInvalid([NOT_UTF8]) from exc
        finally:
            text.detach()  # the caller's file stays open: closing it is the caller's business

    def _read(self, lines: Iterator[str]) -> Iterator[BarRow]:
        peeked: list[str] = []
        first = ""
        for line in lines:
            peeked.append(line)
            first = next((part for part in line.splitlines() if part.strip()), "")
            if first:
                break
        delimiter = _delimiter_detect(first)
        records = enumerate(csv.reader(itertools.chain(peeked, lines), delimiter=delimiter), start=1)
        try:
            yield from self._check(records)
        except csv.Error as exc:
            raise BarListInvalid([f"the file is not valid CSV: {exc}"]) from exc

    def _check(self, records: Iterator[tuple[int, list[str]]]) -> Iterator[BarRow]:
        # PostgreSQL cannot store a NUL; a file with one is damaged or not a CSV export, whichever cell
        # it is in: that alone is reported, for every row that has one.
        nul: list[int] = []
        _, header = next(records, (1, []))
        if any("\x00" in cell for cell in header):
            nul.append(1)
        if not any(cell.strip() for cell in header):
            refusal = ["the file is empty: a header row and at least one bar are needed"]
        else:
            columns, refusal = _header_map(header)
        if refusal:
            nul += [number for number, cells in records if "\x00" in "".join(cells)]
            raise BarListInvalid([f"row {n}: {NUL}" for n in nul] if nul else refusal)
        row_check = _RowChecker(columns)
        for number, cells in records:
            joined = "".join(cells)
            if "\x00" in joined:
                nul.append(number)
            if not joined.strip():
                continue  # a blank line
            self.rows += 1
            if nul or self.rows > MAX_ROWS:
                continue  # refused whole below: only counted
            try:
                row = row_check(number, cells)
            except ValueError as exc:
                self.errors.append((number, str(exc)))
                continue
            yield row
        if nul:
            raise BarListInvalid([f"row {n}: {NUL}" for n in nul])
        if not self.rows:
            raise BarListInvalid(["the file has a header but no bars"])
        if self.rows > MAX_ROWS:
            raise BarListInvalid([f"the file has {self.rows} bars; at most {MAX_ROWS} per file"])


def bar_rows_parse(content: Source, *, progress: Callable[[int, int], None] | None = None) -> list[BarRow]:
    """Every row of the file as a BarRow, or BarListInvalid naming every bad row.

    Refuses what BarListReader refuses, a non-numeric or non-positive weight, a fineness outside
    (0, 1000], a fine weight above the gross weight, a year outside 1900..next year, and a serial
    that repeats within the file (of the same refiner, in any letter case).
    """
    reader = BarListReader(content)
    rows: list[BarRow] = []
    repeats: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        first = seen.setdefault((row.refiner.casefold(), row.serial.casefold()), row.row)
        if first != row.row:
            repeats.append((row.row, f"bar {row.refiner} {row.serial} repeats row {first}"))
        rows.append(row)
        if progress is not None and reader.rows % 1000 == 0:
            progress(reader.rows, max(reader.expected, reader.rows))
    if progress is not None:
        progress(reader.rows, reader.rows)
    errors = row_errors_merge(reader.errors, repeats)
    if errors:
        raise BarListInvalid(errors)
    return rows


class _RowChecker:
    """Checks one row after another of a list with the given columns (positions in the header).

    Shaped by speed as much as by the rules (a list of 100,000 bars should take a fraction of a
    second): the cells are picked in one call, and a year or a fineness already read in this list
    (a list has a few of each) is not read again."""

    MEMO_MAX = 256  # distinct values remembered per field: a list rarely has more

    def __init__(self, columns: dict[str, int]) -> None:
        from django.utils import timezone

        self.next_year = timezone.now().year + 1
        self.indexes = tuple(columns.get(field) for field in COLUMNS)
        present = [i for i in self.indexes if i is not None]
        self.width = max(present) + 1
        self.complete = len(present) == len(COLUMNS)  # the optional fine weight column too
        self.pick = operator.itemgetter(*self.indexes) if self.complete else None
        self.years: dict[str, int] = {}
        self.finenesses: dict[str, Decimal] = {}

    def __call__(self, number: int, cells: list[str]) -> BarRow:
        if self.pick is not None and len(cells) >= self.width:
            values = [cell.strip() for cell in self.pick(cells)]
        else:
            count = len(cells)
            values = [cells[i].strip() if i is not None and i < count else "" for i in self.indexes]
        serial, refiner, year_text, gross_text, fineness_text, fine_text = values
        if not (serial and refiner and year_text and gross_text and fineness_text):
            by_field = dict(zip(COLUMNS, values, strict=True))
            missing = next(field for field in REQUIRED if not by_field[field])
            raise ValueError(f"{COLUMNS[missing][0]} is missing")
        for field, value in (("serial", serial), ("refiner", refiner)):
            if len(value) > LENGTHS[field]:
                raise ValueError(f"{COLUMNS[field][0]} is longer than {LENGTHS[field]} characters")
            if value.startswith(FORMULA_START):
                raise ValueError(f"{COLUMNS[field][0]} '{value}' starts like a spreadsheet formula")
        year = self.years.get(year_text)
        if year is None:
            year = self._year(year_text)
        gross = _decimal(gross_text, "gross weight", 3)
        if gross <= ZERO:
            raise ValueError(f"gross weight {gross} must be above zero")
        if gross > MAX_GROSS_OZ:
            raise ValueError(f"gross weight {gross} oz is above {MAX_GROSS_OZ} oz: not a bar")
        fineness = self.finenesses.get(fineness_text)
        if fineness is None:
            fineness = self._fineness(fineness_text)
        computed = fine_weight_compute(gross, fineness)
        fine = _decimal(fine_text, "fine weight", 3) if fine_text else computed
        if not ZERO < fine <= gross:
            raise ValueError(f"fine weight {fine} must be above zero and at most the gross weight {gross}")
        if fine is not computed and abs(fine - computed) > FINE_TOLERANCE:
            raise ValueError(f"fine weight {fine} does not match gross x fineness / 1000 = {computed}")
        return BarRow(number, serial, refiner, year, gross, fineness, fine)

    def _year(self, text: str) -> int:
        try:
            year = int(text)
        except ValueError as exc:
            raise ValueError(f"year '{text}' is not a whole number") from exc
        if not 1900 <= year <= self.next_year:
            raise ValueError(f"year {year} is not between 1900 and {self.next_year}")
        if len(self.years) < self.MEMO_MAX:
            self.years[text] = year
        return year

    def _fineness(self, text: str) -> Decimal:
        fineness = _decimal(text, "fineness", 2)
        if not ZERO < fineness <= THOUSAND:
            raise ValueError(f"fineness {fineness} is outside (0, 1000]")
        if len(self.finenesses) < self.MEMO_MAX:
            self.finenesses[text] = fineness
        return fineness


def bar_rows_to_csv(rows: Iterable[BarRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Bar Number", "Refiner", "Year of Manufacture", "Gross Weight", "Fineness", "Fine Weight"])
    for r in rows:
        writer.writerow([r.serial, r.refiner, r.year, r.gross_oz, r.fineness, r.fine_oz])
    return out.getvalue()
