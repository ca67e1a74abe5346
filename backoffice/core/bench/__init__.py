"""`make bench`: the measuring instrument. Each row runs the product's path AND its physical floor in
the same run (interleaved rounds, median), prints both, the ratio and whether the target holds.

Speed targets live here, never in timed tests. Memory is measured in runs of its own: tracing
allocations slows the traced code several times over, so a traced run never yields a timing.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .environment import BenchEnv


@dataclass(frozen=True)
class Row:
    """One line of the table. `product` and `floor` are in `unit`; `ratio` is product/floor for times
    and counts (lower is better, `target` is a maximum) and product/floor for rates (higher is
    better, `target` is a minimum share of the floor)."""

    name: str
    product: float
    floor: float
    unit: str
    target: float
    higher_is_better: bool = False
    note: str = ""
    floor_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    counted: bool = False  # a count against a fixed limit (count_row): the target reads as the limit itself

    @property
    def ratio(self) -> float:
        if self.floor == 0:
            return float("inf") if self.product else 1.0
        return self.product / self.floor

    @property
    def holds(self) -> bool:
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    @property
    def target_text(self) -> str:
        if self.counted:
            return f"<= {self.target * self.floor:g}"
        if self.higher_is_better:
            return f">= {self.target:.0%}" if self.target < 1 else f">= {self.target:g}x"
        return f"<= {self.target:g}x"


def time_row(name: str, *, product_s: float, floor_s: float, max_ratio: float, floor_name: str = "",
             note: str = "", unit: str = "us", **extra: Any) -> Row:
    """A row of two durations in seconds, shown in `unit` (us or ms)."""
    scale = {"us": 1e6, "ms": 1e3, "s": 1.0}[unit]
    return Row(name=name, product=product_s * scale, floor=floor_s * scale, unit=unit, target=max_ratio,
               floor_name=floor_name, note=note, extra=extra)


def rate_row(name: str, *, product_rps: float, floor_rps: float, min_share: float, floor_name: str = "",
             note: str = "", **extra: Any) -> Row:
    """A row of two request rates (req/s); holds when the product serves at least `min_share` of the floor."""
    return Row(name=name, product=product_rps, floor=floor_rps, unit="req/s", target=min_share,
               higher_is_better=True, floor_name=floor_name, note=note, extra=extra)


def count_row(name: str, *, product: float, limit: float, floor: float = 1, floor_name: str = "",
              note: str = "", unit: str = "requests", **extra: Any) -> Row:
    """A row counting something (node requests, say) against a fixed limit: ratio = product/floor,
    so a floor of 1 makes the target the limit itself."""
    return Row(name=name, product=product, floor=floor, unit=unit, target=limit / floor, floor_name=floor_name,
               note=note, extra=extra, counted=True)


def interleaved(product: Callable[[], Any], floor: Callable[[], Any], *, rounds: int = 7,
                number: int = 100, reset: Callable[[], Any] | None = None,
                warmup: bool = True, clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """(median seconds per call of `product`, of `floor`): `rounds` rounds of `number` calls each,
    alternating which one goes first, after one warm-up call of each (unless not `warmup`: for paths of
    seconds, whose median of rounds already drops a cold first one). Interleaving makes both see the
    same machine load; the median drops the rounds a neighbour disturbed. `reset`, when given, runs
    untimed before every batch (and before each warm-up call): what a batch needs to find, e.g. an
    empty table again after an import. `clock`: wall time by default (a path that waits on the database
    or the node must count the wait); `time.thread_time` for a path that only computes, so the CPU the
    neighbours take while it runs is not counted as its own."""
    for fn in (product, floor) if warmup else ():
        if reset is not None:
            reset()
        fn()
    product_times: list[float] = []
    floor_times: list[float] = []
    for r in range(rounds):
        order = [(product, product_times), (floor, floor_times)]
        if r % 2:
            order.reverse()
        for fn, times in order:
            if reset is not None:
                reset()
            start = clock()
            for _ in range(number):
                fn()
            times.append((clock() - start) / number)
    return statistics.median(product_times), statistics.median(floor_times)


def peak_growth(fn: Callable[[], Any]) -> int:
    """Peak bytes Python allocated above the starting point while `fn` ran once (a run of its own)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(peak - base, 0)


def _number(value: float) -> str:
    if value == float("inf"):
        return "inf"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table_print(rows: list[Row], out: TextIO) -> None:
    out.write(f"{'path':<44}{'product':>12}{'floor':>12} {'unit':<9}{'ratio':>8}  {'target':<8} holds  note\n")
    for row in rows:
        floor = "-" if row.counted and row.floor == 1 else _number(row.floor)  # a bare limit has no floor
        out.write(
            f"{row.name:<44}{_number(row.product):>12}{floor:>12} {row.unit:<9}"
            f"{_number(row.ratio):>8}  {row.target_text:<8} {'yes' if row.holds else 'NO':<5}  {row.note}\n"
        )
    held = sum(row.holds for row in rows)
    out.write(f"{held} of {len(rows)} targets hold\n")


def table_write_json(rows: list[Row], path: Path, *, context: dict[str, Any]) -> None:
    """The table as JSON (with the machine's load and the time of the run in `context`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **context,
        "rows": [{**asdict(row), "ratio": row.ratio, "holds": row.holds, "target_text": row.target_text}
                 for row in rows],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


# --- rows by group -------------------------------------------------------------------------------
# The kernel may not import the apps: an app adds rows of its own from a `bench` module of its own
# (found like admin modules are), registering a function that returns rows, under a group name.

RowsFunction = Callable[["BenchEnv"], list[Row]]
_GROUPS: dict[str, list[RowsFunction]] = {}


def bench_rows(group: str) -> Callable[[RowsFunction], RowsFunction]:
    """Decorator: `fn(env) -> list[Row]` runs with the rows of `group` (local, served, follow)."""

    def register(fn: RowsFunction) -> RowsFunction:
        if fn not in _GROUPS.setdefault(group, []):
            _GROUPS[group].append(fn)
        return fn

    return register


def bench_groups() -> dict[str, list[RowsFunction]]:
    """Every registered rows function by group, after importing each installed app's `bench` module."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("bench")
    return {group: list(fns) for group, fns in _GROUPS.items()}


def process_stop(process: subprocess.Popen[Any], *, timeout: float = 30, group: bool = False) -> None:
    """Stop a helper process (the bench's gunicorn and Celery worker, the tests' anvil, runserver and worker):
    ask, then kill it if it lingers, its whole group if `group` (a process started in a session of its own,
    whose children would outlive it)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()
