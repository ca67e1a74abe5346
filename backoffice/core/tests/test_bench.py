"""`make bench` works end to end: `manage.py bench --quick --only local` builds its world (fresh database,
anvil, signers, deployment), runs every local row and writes the table. No timing is asserted here (speed
lives in the bench's own "holds" column): only that each row was measured and has a finite ratio."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from backoffice.core.bench import Row, count_row, interleaved, table_print, time_row

ROOT = Path(settings.BASE_DIR)
LOCAL_ROWS = (
    "signature recovery", "node requests per broadcast", "owner check (getOwners)", "signature acceptance (service)",
    "journal append (committed)", "journal verify, per entry", "journal 20k: newest page", "journal 20k: last page",
    "bar-list import 2k rows", "bar-list import 2k: peak memory growth", "bar-list import 2k, 20k stored",
)


def _bench_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.fail("the bench needs PostgreSQL: set DATABASE_URL")
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db.get("PASSWORD") else f"{db['USER']}@"
    # A database of its own, dropped and created by the bench; never the tests' nor `make bench`'s.
    return f"postgres://{auth}{db['HOST']}:{db['PORT'] or 5432}/{db['NAME'].removeprefix('test_')}_bench_smoke"


@pytest.mark.integration
def test_bench_quick_local_measures_every_row_and_writes_the_table(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.test", "DATABASE_URL": _bench_database_url(),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "LOG_LEVEL": "WARNING"}
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's manage.py
        [sys.executable, "manage.py", "bench", "--quick", "--only", "local", "--var-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]

    table = json.loads((tmp_path / "bench.json").read_text())
    names = [row["name"] for row in table["rows"]]
    assert set(LOCAL_ROWS) <= set(names), f"missing rows: {set(LOCAL_ROWS) - set(names)}"
    for row in table["rows"]:
        assert row["product"] > 0 and row["floor"] > 0, row
        assert math.isfinite(row["ratio"]), row
    assert table["groups"] == ["local"] and table["quick"] and table["failures"] == []
    assert len(table["load_before"]) == 3 and table["cpus"]
    assert "targets hold" in done.stdout and "signature acceptance (service)" in done.stdout


def test_interleaved_alternates_and_resets_before_every_batch() -> None:
    calls: list[str] = []
    product, floor = interleaved(lambda: calls.append("p"), lambda: calls.append("f"), rounds=2, number=2,
                                 reset=lambda: calls.append("r"))
    assert calls == ["r", "p", "r", "f",  # warm-up
                     "r", "p", "p", "r", "f", "f",  # round 1: product first
                     "r", "f", "f", "r", "p", "p"]  # round 2: floor first
    assert product >= 0 and floor >= 0


def test_table_shows_ratio_target_and_verdict(tmp_path: Path) -> None:
    import io

    rows: list[Row] = [time_row("fast", product_s=0.002, floor_s=0.001, max_ratio=3, unit="ms"),
                       count_row("requests", product=8, limit=6, floor=5)]
    out = io.StringIO()
    table_print(rows, out)
    text = out.getvalue()
    assert "fast" in text and "<= 3x" in text and "<= 6 " in text and "NO" in text
    assert text.rstrip().endswith("1 of 2 targets hold")
