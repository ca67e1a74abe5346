"""`make bench`: every row's product path beside its floor, the ratio and whether the target holds.

Runs in a world of its own (backoffice/core/bench/environment.py): a fresh database, a fresh anvil, the demo's
signers and a deployed Safe. Prints the table and writes it as JSON (var/bench/bench.json by default)."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import time
import traceback
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from backoffice.core.bench import Row, RowsFunction, bench_groups, table_print, table_write_json
from backoffice.core.bench.environment import BenchUnavailable, bench_environment

GROUPS = ("local", "served", "follow")


def _groups_load() -> dict[str, list[RowsFunction]]:
    """The local rows (this kernel's) and those the apps register from their own `bench` modules (issuance's
    served and follow rows among them: they seed proposals, which the kernel may not import)."""
    import_module("backoffice.core.bench.local")
    return bench_groups()


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=settings.BASE_DIR,  # noqa: S607
                              capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except OSError:
        return ""


class Command(BaseCommand):
    help = ("Measure the hot paths against their physical floors (interleaved rounds, medians); print the table "
            "with ratios and targets, write it as JSON. Needs PostgreSQL and Redis; the database it is given "
            "(its name must contain 'bench') is dropped and created afresh.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", default=",".join(GROUPS),
                            help=f"comma-separated groups to run, of {', '.join(GROUPS)} (default: all)")
        parser.add_argument("--quick", action="store_true",
                            help="small sizes and few rounds: proves the instrument works, measures little")
        parser.add_argument("--var-dir", type=Path, default=None,
                            help="where anvil's log, the relayer key and bench.json go (default: VAR_DIR/bench)")
        parser.add_argument("--match", default="",
                            help="run only the row functions whose name contains this text (e.g. journal)")
        parser.add_argument("--strict", action="store_true", help="exit with an error when a target does not hold")

    def handle(self, *args: Any, **options: Any) -> None:
        self._begun = time.monotonic()
        wanted = [g.strip() for g in options["only"].split(",") if g.strip()]
        unknown = sorted(set(wanted) - set(GROUPS))
        if unknown:
            raise CommandError(f"unknown group(s) {', '.join(unknown)}: choose among {', '.join(GROUPS)}")
        var_dir = options["var_dir"] or Path(settings.VAR_DIR) / "bench"
        groups = _groups_load()
        rows: list[Row] = []
        failures: list[str] = []
        load_before, started = os.getloadavg(), timezone.now()
        self.stdout.write(f"bench: {', '.join(wanted)}{' (quick)' if options['quick'] else ''}; "
                          f"load {self._load(load_before)} on {os.cpu_count()} CPUs")
        try:
            with bench_environment(var_dir=var_dir, quick=options["quick"], progress=self._say) as env:
                for group in wanted:
                    functions = [fn for fn in groups.get(group, []) if options["match"] in fn.__name__]
                    if not functions:
                        self._say(f"{group}: no rows (its module is not there yet)")
                    for fn in functions:
                        name = f"{fn.__module__}.{fn.__name__}"
                        self._say(f"{group}: {name}")
                        begun = time.monotonic()
                        try:
                            rows += fn(env)
                        except Exception:  # noqa: BLE001 - one broken row must not hide the others
                            failures.append(name)
                            self.stderr.write(f"{name} failed:\n{traceback.format_exc()}")
                        self._say(f"{group}: {name} done in {time.monotonic() - begun:.1f} s")
        except BenchUnavailable as exc:
            raise CommandError(str(exc)) from exc
        load_after = os.getloadavg()
        context = {
            "started_at": started.isoformat(), "finished_at": timezone.now().isoformat(), "groups": wanted,
            "quick": options["quick"], "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after,
            "python": platform.python_version(), "postgresql": getattr(connection, "pg_version", None),
            "commit": _git_commit(), "failures": failures,
        }
        self.stdout.write("")
        self.stdout.write(f"load average (1, 5, 15 min): {self._load(load_before)} before, {self._load(load_after)} "
                          f"after; {os.cpu_count()} CPUs; python {platform.python_version()}; "
                          f"commit {context['commit'] or '?'}")
        table = io.StringIO()
        table_print(rows, table)
        self.stdout.write(table.getvalue(), ending="")
        json_path = var_dir / "bench.json"
        table_write_json(rows, json_path, context=context)
        self.stdout.write(f"table written to {json_path}")
        if failures:
            raise CommandError(f"{len(failures)} row function(s) failed: {', '.join(failures)}")
        if options["strict"] and not all(row.holds for row in rows):
            raise CommandError("some targets do not hold")

    @staticmethod
    def _load(load: tuple[float, float, float]) -> str:
        return " ".join(f"{x:.2f}" for x in load)

    _begun = time.monotonic()

    def _say(self, message: str) -> None:
        self.stderr.write(f"  {time.monotonic() - self._begun:6.1f} s  {message}")
        sys.stderr.flush()
