"""The journal: one append-only, hash-chained record of every state change and sensitive action."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class JournalEntry(models.Model):
    """One entry. `entry_hash` = SHA-256 over this entry's canonical content and `prev_hash`.

    `seq` and `prev_hash` are unique, so two writers can never both extend the same tip: the chain
    stays a single line even if the head lock were bypassed.
    """

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The name as it was at the time: the hash covers it, so a later rename breaks nothing.
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, db_index=True)
    object_id = models.CharField(max_length=100, blank=True, db_index=True)
    state_before = models.CharField(max_length=50, blank=True)
    state_after = models.CharField(max_length=50, blank=True)
    reason = models.TextField(blank=True)
    origin_ip = models.GenericIPAddressField(null=True, blank=True)
    origin_agent = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, unique=True, editable=False)
    entry_hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-seq"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class JournalHead(models.Model):
    """A single row locked by every writer: appends are serialised, so `seq` and hashes never fork."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="journal_head_single_row")]

    def __str__(self) -> str:
        return f"journal head #{self.last_seq}"


class LoginFailureWindow(models.Model):
    """Failed logins from one source (IP) in one minute: a counter, so only the first of each minute and
    a summary of the rest reach the journal (see backoffice.journal.logins). Rows live until summarised."""

    source = models.CharField(max_length=45, blank=True)  # an IP; "" unknown; "*" sources beyond the cap
    minute = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "minute"], name="login_failure_window_unique")]
        indexes = [models.Index(fields=["minute"], name="login_failure_window_minute")]

    def __str__(self) -> str:
        return f"{self.failures} failed logins from {self.source or 'unknown'} at {self.minute:%Y-%m-%d %H:%M}"
