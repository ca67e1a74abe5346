"""Bar-list uploads, imported by a Celery worker so a large list never ties up a web request."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from backoffice.core.files import FileKind, StoredFileField, original_name_field

BAR_LIST = FileKind(key="bar_list", folder="imports", label="bar list")


class ImportKind(models.TextChoices):
    DEPOSIT_BARS = "deposit_bars", "Bars of a deposit"
    AUDIT_COUNTS = "audit_counts", "Bars counted by an audit"


class ImportState(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# Waiting for the worker or being worked on: not finished either way.
UNFINISHED_IMPORT_STATES = (ImportState.QUEUED, ImportState.RUNNING)


class BarListImport(ConcurrentTransitionMixin, models.Model):
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    deposit = models.ForeignKey("issuance.Deposit", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="imports")
    audit = models.ForeignKey("issuance.Audit", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="imports")
    file = StoredFileField(upload_to="imports/")
    file_name = original_name_field()
    sha256 = models.CharField(max_length=64)
    state = FSMField(default=ImportState.QUEUED, choices=ImportState.choices, protected=True)
    # Progress counters are not states: the worker bumps them with plain updates while it parses.
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    bars_saved = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # The uploader confirmed that this list replaces the bars (or counts) its target already had.
    replace_existing = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What the sweep (bar_list_imports_recover) goes by. `queued_at`: when the job last entered
    # `queued`. `heartbeat_at`: its last sign of life, a message sent for it while queued, or the
    # worker's claim and progress while running. `attempts`: how many times a worker claimed it;
    # only the worker holding the latest claim may save the bars or finish the job.
    queued_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="deposit_bars", deposit__isnull=False, audit__isnull=True)
                           | models.Q(kind="audit_counts", audit__isnull=False, deposit__isnull=True)),
                name="bar_list_import_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"bar list {self.pk} ({self.state})"

    @property
    def percent(self) -> int:
        return 100 if self.state == ImportState.SUCCEEDED else int(100 * self.rows_done / max(self.rows_total, 1))

    @transition(field=state, source=ImportState.QUEUED, target=ImportState.RUNNING)
    def start(self, *, at: datetime) -> None:
        """A worker took the job: its claim is the next attempt."""
        self.attempts += 1
        self.heartbeat_at = at

    @transition(field=state, source=ImportState.RUNNING, target=ImportState.QUEUED)
    def requeue(self, *, at: datetime) -> None:
        """The worker stopped (no progress for longer than it may run): back in the queue."""
        self.queued_at = self.heartbeat_at = at
        self.rows_done = self.rows_total = 0

    @transition(field=state, source=ImportState.RUNNING, target=ImportState.SUCCEEDED)
    def succeed(self, *, bars: int, at: datetime) -> None:
        self.bars_saved, self.finished_at, self.errors = bars, at, []

    @transition(field=state, source=list(UNFINISHED_IMPORT_STATES), target=ImportState.FAILED)
    def fail(self, *, errors: list[str], at: datetime) -> None:
        self.errors, self.finished_at = errors, at
