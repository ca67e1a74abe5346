"""Parsing LBMA-style bar lists (CSV): every row checked, every error reported with its row number.

Cells may be separated by commas, semicolons (a spreadsheet set to a European locale) or tabs: the
separator is the one that splits the header row into the known columns. A header split by none of them
is refused saying so. `bar_list_template_csv` is the file people are given to fill in.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

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


@dataclass(frozen=True)
class BarRow:
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


def _decimal(value: str, field: str, places: int) -> Decimal:
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


def _delimiter_detect(content: str) -> str:
    """The separator that splits the header row into the known columns; if none does, the one that splits
    it most (its missing columns are then reported), and a header split by none of them is refused."""
    first = next((line for line in content.splitlines() if line.strip()), "")
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


def bar_rows_parse(
    content: bytes | str, *, progress: Callable[[int, int], None] | None = None
) -> list[BarRow]:
    """Every row of the file as a BarRow, or BarListInvalid naming every bad row.

    Refuses: a header separated by something else than commas, semicolons or tabs, a NUL character in any
    cell, a missing column or field, a non-numeric or non-positive weight,
    a fineness outside (0, 1000], a fine weight above the gross weight, a year outside 1900..next year, a serial that
    repeats within the file. Row numbers count the header as row 1, like a spreadsheet.
    """
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BarListInvalid(["the file is not UTF-8 text (save it as CSV UTF-8)"]) from exc
    delimiter = _delimiter_detect(content)
    try:
        lines = list(csv.reader(io.StringIO(content), delimiter=delimiter))
    except csv.Error as exc:
        raise BarListInvalid([f"the file is not valid CSV: {exc}"]) from exc
    # PostgreSQL cannot store a NUL; a file with one is damaged or not a CSV export, whichever cell it is in.
    nul_rows = [f"row {n}: contains a NUL character (byte 0); save the list again as CSV UTF-8"
                for n, cells in enumerate(lines, start=1) if any("\x00" in cell for cell in cells)]
    if nul_rows:
        raise BarListInvalid(nul_rows)
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise BarListInvalid(["the file is empty: a header row and at least one bar are needed"])
    columns, errors = _header_map(lines[0])
    if errors:
        raise BarListInvalid(errors)
    body = [(n, cells) for n, cells in enumerate(lines[1:], start=2) if any(c.strip() for c in cells)]
    if not body:
        raise BarListInvalid(["the file has a header but no bars"])
    if len(body) > MAX_ROWS:
        raise BarListInvalid([f"the file has {len(body)} bars; at most {MAX_ROWS} per file"])

    from django.utils import timezone

    next_year = timezone.now().year + 1
    rows: list[BarRow] = []
    seen: dict[tuple[str, str], int] = {}
    for done, (number, cells) in enumerate(body, start=1):
        try:
            rows.append(_row(number, cells, columns, next_year))
        except ValueError as exc:
            errors.append(f"row {number}: {exc}")
        else:
            key = (rows[-1].refiner.casefold(), rows[-1].serial.casefold())
            if key in seen:
                errors.append(f"row {number}: bar {rows[-1].refiner} {rows[-1].serial} repeats row {seen[key]}")
            seen.setdefault(key, number)
        if progress is not None and (done % 1000 == 0 or done == len(body)):
            progress(done, len(body))
    if errors:
        raise BarListInvalid(errors)
    return rows


def _row(number: int, cells: list[str], columns: dict[str, int], next_year: int) -> BarRow:
    def cell(field: str) -> str:
        index = columns.get(field)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    for field in REQUIRED:
        if not cell(field):
            raise ValueError(f"{COLUMNS[field][0]} is missing")
    for field, limit in LENGTHS.items():
        if len(cell(field)) > limit:
            raise ValueError(f"{COLUMNS[field][0]} is longer than {limit} characters")
        if cell(field).startswith(FORMULA_START):
            raise ValueError(f"{COLUMNS[field][0]} '{cell(field)}' starts like a spreadsheet formula")
    try:
        year = int(cell("year"))
    except ValueError as exc:
        raise ValueError(f"year '{cell('year')}' is not a whole number") from exc
    if not 1900 <= year <= next_year:
        raise ValueError(f"year {year} is not between 1900 and {next_year}")
    gross = _decimal(cell("gross_oz"), "gross weight", 3)
    if gross <= 0:
        raise ValueError(f"gross weight {gross} must be above zero")
    if gross > MAX_GROSS_OZ:
        raise ValueError(f"gross weight {gross} oz is above {MAX_GROSS_OZ} oz: not a bar")
    fineness = _decimal(cell("fineness"), "fineness", 2)
    if not Decimal(0) < fineness <= Decimal(1000):
        raise ValueError(f"fineness {fineness} is outside (0, 1000]")
    computed = fine_weight_compute(gross, fineness)
    fine = _decimal(cell("fine_oz"), "fine weight", 3) if cell("fine_oz") else computed
    if not Decimal(0) < fine <= gross:
        raise ValueError(f"fine weight {fine} must be above zero and at most the gross weight {gross}")
    if abs(fine - computed) > FINE_TOLERANCE:
        raise ValueError(f"fine weight {fine} does not match gross x fineness / 1000 = {computed}")
    return BarRow(row=number, serial=cell("serial"), refiner=cell("refiner"), year=year,
                  gross_oz=gross, fineness=fineness, fine_oz=fine)


def bar_rows_to_csv(rows: Iterable[BarRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Bar Number", "Refiner", "Year of Manufacture", "Gross Weight", "Fineness", "Fine Weight"])
    for r in rows:
        writer.writerow([r.serial, r.refiner, r.year, r.gross_oz, r.fineness, r.fine_oz])
    return out.getvalue()
