"""Bar-list uploads: stored, then imported by a Celery worker with progress, all rows or none, exactly
once however often the worker stops or a message is lost (the sweep recovers both)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import DatabaseError, OperationalError, transaction
from django.utils import timezone

from backoffice.core.errors import InvalidInput
from backoffice.core.files import file_store
from backoffice.core.tasks import task_enqueue_on_commit
from backoffice.journal.services import TransitionRefused, transition_apply

from ..barlist import BarListInvalid
from ..models import Audit, AuditState, BarListImport, Deposit, DepositState, ImportKind, ImportState
from ..models.imports import BAR_LIST
from .gold import _audit_counts_save, _auditor_require, _deposit_bars_save, _file_journal, _permission_require
from .staging import StagedBarList, bar_list_stage

logger = logging.getLogger(__name__)


def bar_list_import_start(*, kind: str, target_id: int, upload: File, actor: User,
                          replace: bool = False) -> BarListImport:
    """Store the uploaded list (with its SHA-256) and queue it for a worker after commit.

    Refuses an empty file, and a target the actor may not add bars to; the worker then imports all
    rows or none (bar_list_import_run). A deposit's list adds to its bars, or with `replace` (which the
    admin asks the uploader to confirm) replaces them in the same transaction; an audit's counted list
    always replaces the counts."""
    if kind == ImportKind.DEPOSIT_BARS:
        _permission_require(actor, "issuance.add_deposit", "record deposits")
        deposit = Deposit.objects.get(pk=target_id)
        if deposit.state != DepositState.DRAFT:
            raise InvalidInput(f"bars can be added only to a draft deposit; this one is {deposit.state}")
        target: dict[str, Deposit | Audit] = {"deposit": deposit}
    elif kind == ImportKind.AUDIT_COUNTS:
        _auditor_require(target_id, actor)
        audit = Audit.objects.get(pk=target_id)
        if audit.state != AuditState.FIELDWORK:
            raise InvalidInput(f"counts are recorded during fieldwork; this audit is {audit.state}")
        target = {"audit": audit}
    else:
        raise InvalidInput(f"unknown bar list kind {kind}")
    stored = file_store(upload=upload, kind=BAR_LIST)
    with transaction.atomic():
        job = BarListImport.objects.create(kind=kind, file=stored.name, file_name=stored.original_name,
                                           sha256=stored.sha256, created_by=actor,
                                           replace_existing=replace, **target)
        _file_journal(stored, actor=actor, obj=job, kind=kind, target=target_id)
        _bar_list_import_enqueue(job.pk)
    return job


def _bar_list_import_enqueue(job_id: int) -> None:
    """Send the job to a worker once the transaction commits. A broker that is down leaves it queued
    (logged): the upload or the sweep still succeeds, and the next sweep sends it again."""
    from ..tasks import bar_list_import_task  # here: the tasks module imports the services

    task_enqueue_on_commit(bar_list_import_task, job_id)


def bar_list_import_run(*, job_id: int) -> BarListImport:
    """Import a queued bar list: all rows or none; progress is visible while rows are checked.

    The worker claims the job (queued -> running, the next attempt). A message for a job that is
    not queued (a duplicate, a redelivery, a job another worker took or finished) changes nothing.
    The bars and the job's end (succeed, or fail) are written in one transaction that first checks
    the job is still running under this attempt: a worker the sweep gave up on (it showed no
    progress for too long, the job was re-queued and claimed again) saves nothing when it wakes.
    """
    job = BarListImport.objects.get(pk=job_id)
    if job.state != ImportState.QUEUED:
        return job
    try:
        job = transition_apply(model=BarListImport, pk=job_id, transition="start", actor=job.created_by,
                               check_permission=False, params={"at": timezone.now()})
    except TransitionRefused:  # another worker claimed it between our read and our lock
        return BarListImport.objects.get(pk=job_id)
    attempt = job.attempts

    def progress(done: int, total: int) -> None:
        # Only under our attempt: an overtaken worker must not overwrite its successor's progress.
        BarListImport.objects.filter(pk=job_id, state=ImportState.RUNNING, attempts=attempt).update(
            rows_done=done, rows_total=total, heartbeat_at=timezone.now())

    try:
        # The file streams into the session's staging table, checked row by row, before the transaction
        # that saves the bars begins: a worker frozen or killed while reading holds no lock.
        with job.file.open("rb") as handle, bar_list_stage(handle, progress=progress) as staged, transaction.atomic():
            if not _bar_list_import_hold(job_id=job_id, attempt=attempt):
                return _bar_list_import_overtaken(job_id=job_id, attempt=attempt)
            saved = _bar_list_save(job=job, staged=staged)
            return transition_apply(model=BarListImport, pk=job_id, transition="succeed", actor=job.created_by,
                                    check_permission=False, params={"bars": saved, "at": timezone.now()},
                                    data={"bars": saved, "attempt": attempt})
    except BarListInvalid as exc:
        errors = exc.errors
    except (InvalidInput, TransitionRefused) as exc:
        errors = [str(exc)]
    except OperationalError:
        raise  # the database is unreachable or busy, not refusing the list: the sweep runs it again later
    except DatabaseError as exc:  # a value the database refuses: the list is refused, the job ends
        errors = [f"the database refused the list: {exc.__class__.__name__}"]
    except OSError as exc:  # the stored file is gone: failing beats stopping every worker that claims the job
        errors = [f"the uploaded file cannot be read: {exc.__class__.__name__}"]
    with transaction.atomic():
        if not _bar_list_import_hold(job_id=job_id, attempt=attempt):
            return _bar_list_import_overtaken(job_id=job_id, attempt=attempt)
        return transition_apply(model=BarListImport, pk=job_id, transition="fail", actor=job.created_by,
                                check_permission=False, params={"errors": errors[:1000], "at": timezone.now()},
                                reason=f"{len(errors)} error(s)", data={"errors": len(errors), "attempt": attempt})


def _bar_list_import_hold(*, job_id: int, attempt: int) -> bool:
    """Lock the job for the rest of the current transaction if it is still running under `attempt`.

    An UPDATE rather than SELECT ... FOR UPDATE: it locks the row on PostgreSQL just the same (the
    sweep then skips the job), and on SQLite it takes the write lock first, so the transaction's
    later writes never meet a competing writer halfway."""
    return bool(BarListImport.objects.filter(pk=job_id, state=ImportState.RUNNING, attempts=attempt)
                .update(heartbeat_at=timezone.now()))


def _bar_list_import_overtaken(*, job_id: int, attempt: int) -> BarListImport:
    logger.warning("bar-list-import id=%s attempt=%s overtaken: the job was re-queued, nothing saved", job_id, attempt)
    return BarListImport.objects.get(pk=job_id)


def _bar_list_save(*, job: BarListImport, staged: StagedBarList) -> int:
    """Save a staged list to the job's target with its uploader's rights (checked again: a role may
    have been taken away since the upload); returns how many bars were saved."""
    actor = job.created_by
    if job.kind == ImportKind.DEPOSIT_BARS and job.deposit_id is not None:
        _permission_require(actor, "issuance.add_deposit", "record deposits")
        return _deposit_bars_save(deposit_id=job.deposit_id, staged=staged, actor=actor,
                                  replace=job.replace_existing)
    if job.kind == ImportKind.AUDIT_COUNTS and job.audit_id is not None:
        _auditor_require(job.audit_id, actor)
        return _audit_counts_save(audit_id=job.audit_id, staged=staged, actor=actor)
    raise InvalidInput(f"bar list {job.pk} has no target")  # the check constraint makes this unreachable


def bar_list_imports_recover() -> int:
    """The sweep: imports nothing is working on are sent to a worker again; returns how many.

    - running without progress for BAR_LIST_IMPORT_STALE_SECONDS (longer than a worker may run
      one, so its worker is gone): back to queued, journalled with the reason, and sent again; or
      failed, once it has stopped BAR_LIST_IMPORT_MAX_ATTEMPTS workers. A job whose row is locked
      is saving its bars right now and is left alone.
    - queued and not sent for BAR_LIST_IMPORT_QUEUED_SECONDS (its message lost, say, to a broker
      restart): sent again. A duplicate message is harmless: one worker claims, the others find it
      taken. A conditional update picks the sender, so two sweeps never both send.
    """
    now = timezone.now()
    sent = 0
    stale_before = now - timedelta(seconds=settings.BAR_LIST_IMPORT_STALE_SECONDS)
    stalled = BarListImport.objects.filter(state=ImportState.RUNNING, heartbeat_at__lt=stale_before)
    for job_id in stalled.order_by("pk").values_list("pk", flat=True):
        sent += _bar_list_import_requeue(job_id=job_id, stale_before=stale_before, now=now)
    queued_before = now - timedelta(seconds=settings.BAR_LIST_IMPORT_QUEUED_SECONDS)
    waiting = BarListImport.objects.filter(state=ImportState.QUEUED, heartbeat_at__lt=queued_before)
    for job_id in waiting.order_by("pk").values_list("pk", flat=True):
        if waiting.filter(pk=job_id).update(heartbeat_at=now):
            logger.info("bar-list-import id=%s re-sent reason=queued-since-%s", job_id, queued_before.isoformat())
            _bar_list_import_enqueue(job_id)
            sent += 1
    return sent


def _bar_list_import_requeue(*, job_id: int, stale_before: datetime, now: datetime) -> int:
    with transaction.atomic():
        job = (BarListImport.objects.select_for_update(skip_locked=True)
               .filter(pk=job_id, state=ImportState.RUNNING, heartbeat_at__lt=stale_before).first())
        if job is None:  # finished or moving meanwhile, or locked: saving its bars right now
            return 0
        idle = int((now - job.heartbeat_at).total_seconds())
        facts = {"attempt": job.attempts, "rows_done": job.rows_done, "rows_total": job.rows_total, "idle_s": idle}
        if job.attempts >= settings.BAR_LIST_IMPORT_MAX_ATTEMPTS:
            error = (f"the import stopped its worker {job.attempts} times without finishing (the last time after "
                     f"{job.rows_done} of {job.rows_total or '?'} rows); a list this large may be beyond the "
                     "worker's time or memory: split it into smaller lists")
            transition_apply(model=BarListImport, pk=job_id, transition="fail", actor=None, check_permission=False,
                             params={"errors": [error], "at": now}, data=facts,
                             reason=f"no progress for {idle} s: the worker stopped; no attempt is left")
            return 0
        transition_apply(model=BarListImport, pk=job_id, transition="requeue", actor=None, check_permission=False,
                         params={"at": now}, data=facts, reason=f"no progress for {idle} s: the worker stopped")
        _bar_list_import_enqueue(job_id)
    logger.info("bar-list-import id=%s re-queued attempt=%s idle_s=%s", job_id, facts["attempt"], idle)
    return 1
