"""Leases are exclusive among real processes racing at the same instant, on PostgreSQL and SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from backoffice.core.leases import lease_acquire, lease_held, lease_release, lease_renew
from backoffice.core.models import Lease

ROOT = Path(__file__).resolve().parents[3]
RACERS, TRIALS = 4, 20


def _race(database_url: str, prefix: str) -> list[list[str | None]]:
    """Start RACERS processes, let each take part in TRIALS races; each process's tokens by trial."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.test", "DATABASE_URL": database_url}
    racers = [subprocess.Popen([sys.executable, "-m", "backoffice.core.tests.lease_racer", prefix, str(TRIALS)],
                               cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
              for _ in range(RACERS)]
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        start = time.time() + 0.5  # every racer is set up: they all wake at the same instants
        for racer in racers:  # all of them told before any is waited for
            assert racer.stdin is not None
            racer.stdin.write(f"{start}\n")
            racer.stdin.flush()
        return [json.loads(racer.communicate(timeout=120)[0]) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()


def _exactly_one_winner_each_time(results: list[list[str | None]], holders: dict[str, str]) -> None:
    for trial in range(TRIALS):
        winners = [tokens[trial] for tokens in results if tokens[trial] is not None]
        assert len(winners) == 1, f"trial {trial}: {len(winners)} winners"
        assert holders[f"{trial}"] == winners[0], f"trial {trial}: the stored holder is not the winner"


@pytest.mark.django_db(transaction=True)
def test_processes_racing_on_postgresql_get_exactly_one_lease_each_time():
    db = connection.settings_dict
    assert connection.vendor == "postgresql"
    url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    results = _race(url, "pg")
    holders = {name.removeprefix("pg-"): holder for name, holder in Lease.objects.values_list("name", "holder")}
    _exactly_one_winner_each_time(results, holders)


def test_processes_racing_on_an_sqlite_file_get_exactly_one_lease_each_time(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'leases.sqlite3'}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.test", "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "core", "-v0"], cwd=ROOT, env=env, check=True)
    results = _race(url, "lite")
    with sqlite3.connect(tmp_path / "leases.sqlite3") as db:
        rows = db.execute("SELECT name, holder FROM core_lease").fetchall()
    _exactly_one_winner_each_time(results, {name.removeprefix("lite-"): holder for name, holder in rows})


def _expire(name: str) -> None:
    Lease.objects.filter(name=name).update(expires_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_a_held_lease_is_refused_to_others_and_freed_by_its_holder_only():
    first = lease_acquire(name="job", seconds=60)
    assert first is not None
    assert lease_acquire(name="job", seconds=60) is None
    lease_release(name="job", token="not-the-holder")
    assert lease_acquire(name="job", seconds=60) is None
    assert Lease.objects.get(name="job").holder == first
    lease_release(name="job", token=first)
    assert not Lease.objects.exists()
    assert lease_acquire(name="job", seconds=60) is not None


@pytest.mark.django_db(transaction=True)
def test_an_expired_lease_is_taken_over_and_its_old_holder_can_neither_renew_nor_release_it():
    old = lease_acquire(name="follow", seconds=60)
    assert old is not None and lease_renew(name="follow", token=old, seconds=60)
    _expire("follow")
    new = lease_acquire(name="follow", seconds=60)
    assert new is not None and new != old
    assert lease_renew(name="follow", token=old, seconds=60) is False
    lease_release(name="follow", token=old)
    lease = Lease.objects.get(name="follow")
    assert lease.holder == new and lease.expires_at > timezone.now() + timedelta(seconds=50)
    assert lease_acquire(name="follow", seconds=60) is None


@pytest.mark.django_db(transaction=True)
def test_an_expired_lease_nobody_took_over_can_still_be_renewed_by_its_holder():
    token = lease_acquire(name="follow", seconds=60)
    assert token is not None
    _expire("follow")
    assert lease_renew(name="follow", token=token, seconds=60)
    assert lease_acquire(name="follow", seconds=60) is None


@pytest.mark.django_db(transaction=True)
def test_losing_a_lease_inside_a_transaction_leaves_the_transaction_usable():
    holder = lease_acquire(name="sweep", seconds=60)
    with transaction.atomic():
        assert lease_acquire(name="sweep", seconds=60) is None
        assert Lease.objects.get(name="sweep").holder == holder  # the transaction still works
    assert Lease.objects.get(name="sweep").holder == holder


@pytest.mark.django_db(transaction=True)
def test_lease_held_is_exclusive_for_the_block_and_released_after_it_even_on_error():
    with lease_held(name="sweep", seconds=60) as held:
        with lease_held(name="sweep", seconds=60) as again:
            assert (held, again) == (True, False)
        assert Lease.objects.filter(name="sweep").exists()  # the loser did not release it
    assert not Lease.objects.exists()
    with pytest.raises(RuntimeError), lease_held(name="sweep", seconds=60):
        raise RuntimeError("the sweep failed")
    assert not Lease.objects.exists()
