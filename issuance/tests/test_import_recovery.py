"""No bar-list import stays queued or running for ever: a lost message or a stopped worker is caught
by the sweep, and the list is still saved exactly once (real worker processes where it matters)."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from celery.signals import after_task_publish
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone

from backoffice.accounts.roles import Role
from backoffice.core.leases import lease_acquire
from backoffice.journal.models import JournalEntry
from backoffice.journal.services import transition_apply
from conftest import celery_worker_process
from issuance import services
from issuance.models import Bar, BarListImport, Deposit, ImportKind, ImportState, Vault
from issuance.tasks import bar_list_import_sweep_task

from .factories import bar_csv, deposit_make, user_with_role

TASK = "issuance.tasks.bar_list_import_task"
DONE = (ImportState.SUCCEEDED, ImportState.FAILED)


@pytest.fixture
def published() -> Iterator[list[tuple[str, int]]]:
    """(task name, first argument) of every message this process sends to the broker meanwhile."""
    sent: list[tuple[str, int]] = []

    def record(sender: str | None = None, body: object = None, **_: object) -> None:
        args = body[0] if isinstance(body, tuple) else []  # protocol 2: (args, kwargs, embed)
        sent.append((str(sender), args[0] if args else -1))

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


def _rows(prefix: str, count: int) -> list[tuple[str, str, str, str]]:
    return [(f"{prefix}{i:06d}", f"{400 + i % 10}.{i % 1000:03d}", "999.9", "") for i in range(count)]


def _deposit(operator: User, tag: str) -> Deposit:
    vault = Vault.objects.create(name=f"Vault {tag}", location="Zurich")
    return deposit_make(operator=operator, vault=vault, reference=f"REC-{tag}",
                        csv=bar_csv([(f"SEED{tag}", "400", "999.9", "")], refiner="Seed"))


def _lost_job(operator: User, deposit: Deposit, rows: list[tuple[str, str, str, str]], *,
              sent_ago: float) -> BarListImport:
    """An uploaded list whose message never reached a worker (as after a broker restart)."""
    content = bar_csv(rows).encode()
    name = default_storage.save(f"imports/test-{uuid.uuid4().hex}/bars.csv", ContentFile(content))
    job = BarListImport.objects.create(kind=ImportKind.DEPOSIT_BARS, deposit=deposit, file=name, created_by=operator,
                                       sha256=hashlib.sha256(content).hexdigest())
    _age(job, seconds=sent_ago)
    return job


def _age(job: BarListImport, *, seconds: float) -> None:
    """Move the job's last sign of life into the past: what the clock does while nothing happens."""
    BarListImport.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def _claim(job: BarListImport) -> BarListImport:
    """What a worker does when it takes the job, before it reads a row."""
    return transition_apply(model=BarListImport, pk=job.pk, transition="start", actor=None, check_permission=False,
                            params={"at": timezone.now()})


def _wait(job_id: int, done: Callable[[BarListImport], bool], timeout: float = 90) -> BarListImport:
    deadline = time.monotonic() + timeout
    while True:
        job = BarListImport.objects.get(pk=job_id)
        if done(job) or time.monotonic() > deadline:
            return job
        time.sleep(0.005)


def _actions(job: BarListImport) -> list[str]:
    return list(JournalEntry.objects.filter(object_type="issuance.barlistimport", object_id=str(job.pk))
                .order_by("seq").values_list("action", flat=True))


STALE = settings.BAR_LIST_IMPORT_STALE_SECONDS


# --- with the real worker ---------------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_queued_import_whose_message_was_lost_is_sent_again_by_the_sweep_and_imported_once(
    chain, celery_worker, roles, published
):
    operator = get_user_model().objects.get(username="operator")
    deposit = _deposit(operator, "LOST")
    job = _lost_job(operator, deposit, _rows("L", 300), sent_ago=settings.BAR_LIST_IMPORT_QUEUED_SECONDS + 5)

    assert bar_list_import_sweep_task() == 1
    assert published == [(TASK, job.pk)]
    done = _wait(job.pk, lambda j: j.state in DONE)
    assert done.state == ImportState.SUCCEEDED, done.errors
    assert (done.attempts, done.bars_saved) == (1, 300)
    assert Bar.objects.filter(deposit=deposit).count() == 301
    assert bar_list_import_sweep_task() == 0  # nothing left to recover
    assert len(published) == 1
    assert _actions(done) == ["issuance.barlistimport.start", "issuance.barlistimport.succeed"]


@pytest.fixture
def doomed_worker(chain, celery_worker, tmp_path):
    """A second real worker that alone consumes the queue; the session's worker is back afterwards."""
    from backoffice.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    name = f"doomed-import-{os.getpid()}@localhost"
    app.control.cancel_consumer(queue, destination=[celery_worker], reply=True)
    try:
        with celery_worker_process(chain, tmp_path, name=name) as process:
            yield process, name, tmp_path / f"{name.split('@')[0]}.log"
    finally:
        app.control.add_consumer(queue, destination=[celery_worker], reply=True)


def _session_worker_back(celery_worker: str) -> None:
    from backoffice.celery import app

    app.control.add_consumer(settings.CELERY_TASK_DEFAULT_QUEUE, destination=[celery_worker], reply=True)


def _upload_and_catch_mid_list(operator: User, deposit: Deposit, rows: int) -> BarListImport:
    """Upload through the service (the message goes to the doomed worker) and return as soon as that
    worker has checked its first rows."""
    job = services.bar_list_import_start(kind=ImportKind.DEPOSIT_BARS, target_id=deposit.pk, actor=operator,
                                         upload=ContentFile(bar_csv(_rows("K", rows)).encode(), name="bars.csv"))
    caught = _wait(job.pk, lambda j: j.rows_done > 0 or j.state in DONE, timeout=60)
    assert caught.state == ImportState.RUNNING and caught.rows_done > 0, (caught.state, caught.errors)
    return caught


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_was_killed_mid_list_is_requeued_and_its_bars_saved_once(
    chain, celery_worker, doomed_worker, roles
):
    process, _, _ = doomed_worker
    operator = get_user_model().objects.get(username="operator")
    deposit = _deposit(operator, "KILL")
    _upload_and_catch_mid_list(operator, deposit, 30_000)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    job = BarListImport.objects.get(deposit=deposit)
    assert job.state == ImportState.RUNNING and job.attempts == 1  # left like this, for ever, before the sweep
    assert Bar.objects.filter(deposit=deposit).count() == 1

    _session_worker_back(celery_worker)
    assert bar_list_import_sweep_task() == 0  # its last progress is recent: a live worker may still have it
    _age(job, seconds=STALE + 1)
    assert bar_list_import_sweep_task() == 1
    requeue = JournalEntry.objects.get(object_id=str(job.pk), action="issuance.barlistimport.requeue")
    idle = int(requeue.reason.removeprefix("no progress for ").removesuffix(" s: the worker stopped"))
    assert STALE < idle < STALE + 30
    assert requeue.data["attempt"] == 1 and requeue.data["rows_done"] > 0
    done = _wait(job.pk, lambda j: j.state in DONE)
    assert done.state == ImportState.SUCCEEDED, done.errors
    assert (done.attempts, done.bars_saved, done.rows_done) == (2, 30_000, 30_000)
    assert Bar.objects.filter(deposit=deposit).count() == 30_001
    assert _actions(done).count("issuance.barlistimport.succeed") == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_overtaken_by_the_sweep_saves_nothing_when_it_wakes_up(
    chain, celery_worker, doomed_worker, roles
):
    process, _, log = doomed_worker
    operator = get_user_model().objects.get(username="operator")
    deposit = _deposit(operator, "SLOW")
    _upload_and_catch_mid_list(operator, deposit, 60_000)
    os.killpg(process.pid, signal.SIGSTOP)  # a worker frozen mid-list (swapping, a paused VM...)
    try:
        job = BarListImport.objects.get(deposit=deposit)
        assert job.state == ImportState.RUNNING and 0 < job.rows_done < 60_000  # frozen while checking rows
        # The frozen worker's last wait for a message (1 s) ends on the broker's side, so the message
        # the sweep sends can only go to the session's worker.
        time.sleep(2)
        _session_worker_back(celery_worker)
        _age(job, seconds=STALE + 1)
        assert bar_list_import_sweep_task() == 1
        done = _wait(job.pk, lambda j: j.state in DONE)
        assert done.state == ImportState.SUCCEEDED and done.attempts == 2, done.errors
    finally:
        os.killpg(process.pid, signal.SIGCONT)
    deadline = time.monotonic() + 60  # the frozen worker finishes its list, then finds the job taken
    while "attempt=1 overtaken" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "attempt=1 overtaken" in log.read_text()
    late = BarListImport.objects.get(pk=job.pk)
    assert (late.state, late.attempts, late.bars_saved, late.rows_done) == (ImportState.SUCCEEDED, 2, 60_000, 60_000)
    assert Bar.objects.filter(deposit=deposit).count() == 60_001
    assert _actions(late).count("issuance.barlistimport.succeed") == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sweeps_running_at_once_send_each_lost_import_once(chain, celery_worker, roles, published):
    operator = get_user_model().objects.get(username="operator")
    deposit = _deposit(operator, "TWICE")
    lost = _lost_job(operator, deposit, _rows("W", 50), sent_ago=3600)
    stalled = _claim(_lost_job(operator, _deposit(operator, "TWICE2"), _rows("X", 50), sent_ago=0))
    _age(stalled, seconds=STALE + 1)
    start, results = threading.Barrier(4), []

    def sweep() -> None:
        try:
            start.wait()
            results.append(bar_list_import_sweep_task())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 2]
    assert sorted(published) == [(TASK, lost.pk), (TASK, stalled.pk)]
    for job in (lost, stalled):
        done = _wait(job.pk, lambda j: j.state in DONE)
        assert done.state == ImportState.SUCCEEDED and done.bars_saved == 50, done.errors
    assert [Bar.objects.filter(serial__startswith=p).count() for p in ("W", "X")] == [50, 50]


# --- the sweep and the claim, in this process ---------------------------------------------------

@pytest.fixture
def operator(roles) -> User:
    return user_with_role(Role.OPERATOR, username="operator-user")


@pytest.mark.django_db(transaction=True)
def test_the_sweep_leaves_imports_that_are_moving_alone(operator, published):
    deposit = _deposit(operator, "FRESH")
    running = _claim(_lost_job(operator, deposit, _rows("F", 10), sent_ago=0))
    _age(running, seconds=STALE - 5)  # quiet, but not for longer than a worker may run
    waiting = _lost_job(operator, _deposit(operator, "FRESH2"), _rows("G", 10), sent_ago=5)
    before = {j.pk: (j.state, j.heartbeat_at, j.attempts) for j in BarListImport.objects.all()}
    journal = JournalEntry.objects.count()

    assert bar_list_import_sweep_task() == 0
    assert published == []
    assert {j.pk: (j.state, j.heartbeat_at, j.attempts) for j in BarListImport.objects.all()} == before
    assert JournalEntry.objects.count() == journal
    assert {running.pk, waiting.pk} <= set(before)


@pytest.mark.django_db(transaction=True)
def test_the_sweep_does_nothing_while_another_sweep_holds_its_lease(operator, published):
    job = _lost_job(operator, _deposit(operator, "HELD"), _rows("H", 10), sent_ago=3600)
    heartbeat = BarListImport.objects.get(pk=job.pk).heartbeat_at
    assert lease_acquire(name="bar-list-import-sweep", seconds=100) is not None
    assert bar_list_import_sweep_task() == 0
    assert published == []
    assert BarListImport.objects.get(pk=job.pk).heartbeat_at == heartbeat


@pytest.mark.django_db(transaction=True)
def test_an_import_that_stopped_its_worker_too_often_fails_with_the_reason(operator, published, private_queue):
    deposit = _deposit(operator, "POISON")
    job = _lost_job(operator, deposit, _rows("P", 10), sent_ago=0)
    for attempt in range(1, settings.BAR_LIST_IMPORT_MAX_ATTEMPTS + 1):
        _claim(job)
        _age(job, seconds=STALE + 1)
        assert bar_list_import_sweep_task() == (1 if attempt < settings.BAR_LIST_IMPORT_MAX_ATTEMPTS else 0)
    failed = BarListImport.objects.get(pk=job.pk)
    assert failed.state == ImportState.FAILED and failed.attempts == settings.BAR_LIST_IMPORT_MAX_ATTEMPTS
    assert "stopped its worker 3 times without finishing" in failed.errors[0]
    assert len(published) == settings.BAR_LIST_IMPORT_MAX_ATTEMPTS - 1
    assert Bar.objects.filter(deposit=deposit).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_second_message_for_an_import_another_worker_is_claiming_changes_nothing(operator: User) -> None:
    deposit = _deposit(operator, "DUP")
    job = _lost_job(operator, deposit, _rows("D", 20), sent_ago=0)
    outcomes: list[object] = []

    def run() -> None:
        try:
            outcomes.append(services.bar_list_import_run(job_id=job.pk).state)
        except Exception as exc:  # the outcome under test: a duplicate must not raise
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    with transaction.atomic():  # both messages read `queued`, then wait for the row lock together
        BarListImport.objects.select_for_update().get(pk=job.pk)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:  # activity is a snapshot per transaction: drop it first
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")
                if cursor.fetchone()[0] >= 2:
                    break
            time.sleep(0.01)
        else:
            pytest.fail("the two messages never waited for the row lock together")
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2 and set(outcomes) <= {ImportState.RUNNING, ImportState.SUCCEEDED}, outcomes
    done = BarListImport.objects.get(pk=job.pk)
    assert (done.state, done.attempts, done.bars_saved) == (ImportState.SUCCEEDED, 1, 20)
    assert Bar.objects.filter(deposit=deposit).count() == 21
    assert _actions(done).count("issuance.barlistimport.start") == 1


# --- the page -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_import_page_says_what_is_happening_at_each_stage(client, operator, django_capture_on_commit_callbacks):
    def status(job: BarListImport) -> str:
        page = client.get(f"/admin/issuance/barlistimport/{job.pk}/change/").content.decode()
        return page.split('<span id="import-status">', 1)[1].split("</span>", 1)[0]

    client.force_login(get_user_model().objects.create_superuser("import-viewer", password="x" * 12))
    job = _lost_job(operator, _deposit(operator, "PAGE"), _rows("Q", 2), sent_ago=0)
    assert status(job).startswith("Queued since ") and status(job).endswith(", waiting for a worker.")

    _claim(job)
    BarListImport.objects.filter(pk=job.pk).update(rows_done=1000, rows_total=16000)
    assert status(job).startswith("Running (attempt 1): 1000 of 16000 rows checked; last progress at ")
    _age(job, seconds=STALE + 1)
    assert f"If the worker stopped, the import is re-queued {STALE} s after its last progress." in status(job)

    with django_capture_on_commit_callbacks():  # the message is not sent: this test has no worker
        assert services.bar_list_imports_recover() == 1
    shown = status(job)
    assert shown.startswith("Re-queued at ")
    assert shown.endswith(" after the worker stopped during attempt 1; waiting for a worker to start attempt 2.")

    services.bar_list_import_run(job_id=job.pk)
    assert status(job).startswith("Succeeded at ") and status(job).endswith(": 2 bars saved.")

    bad = _lost_job(operator, _deposit(operator, "PAGE2"), [("Z1", "400", "1001", "")], sent_ago=0)
    services.bar_list_import_run(job_id=bad.pk)
    assert status(bad).startswith("Failed at ") and status(bad).endswith(
        " with 1 error(s), listed below; nothing was saved.")
