"""The journal: one append-only, hash-chained record of every state change and sensitive action."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


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
        # Each filter of the journal list walks one of these newest-first, so a page costs the same at a
        # million rows as at ten (keyset on seq; see backoffice.journal.listing).
        indexes = [
            models.Index(fields=["action", "-seq"], name="journal_action_seq"),
            models.Index(fields=["actor_username", "-seq"], name="journal_actor_seq"),
            models.Index(fields=["object_type", "object_id", "-seq"], name="journal_object_seq"),
            models.Index(fields=["state_after", "-seq"], name="journal_state_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class JournalReference(models.Model):
    """One thing an entry concerns, normalised for lookup: every address, hash or identifier among its
    data values and its object id, lower-cased. Written with the entry (never after: both tables are
    append-only), derived from the hashed content, so it adds nothing the hash has to cover.

    A side table rather than a GIN index on `data`: it serves "every entry about this address" from one
    B-tree on (value, entry), on PostgreSQL and SQLite alike, whatever key the address sits under.
    """

    # DO_NOTHING: entries are never deleted (triggers); the database's foreign key refuses it anyway, and
    # Django's own PROTECT would second-guess the tamper tests that delete entries with triggers off.
    entry = models.ForeignKey(JournalEntry, on_delete=models.DO_NOTHING, related_name="references")
    value = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["value", "entry"], name="journal_reference_unique")]

    def __str__(self) -> str:
        return f"{self.value} in #{self.entry_id}"


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


class AnchorState(models.TextChoices):
    SENT = "sent", "sent, not yet confirmed"
    CONFIRMED = "confirmed", "confirmed on chain"
    FAILED = "failed", "failed (another transaction took its nonce)"


class JournalAnchor(ConcurrentTransitionMixin, models.Model):
    """The journal's head (seq and entry hash) as published on chain, in the data of a transaction from
    the relayer to itself (backoffice.journal.anchors). The chain, not this row, is what
    `verify_journal` trusts: the row only says where to look."""

    seq = models.PositiveBigIntegerField()
    entry_hash = models.CharField(max_length=64)
    chain_id = models.PositiveBigIntegerField()
    sender = models.CharField(max_length=42)
    nonce = models.PositiveBigIntegerField()
    # The transaction as signed, stored before it is sent; a stuck one is replaced at the same nonce
    # with higher fees (same data), and the one that is mined becomes `tx_hash`.
    tx_hash = models.CharField(max_length=66, unique=True)
    raw_tx = models.BinaryField()
    previous_tx_hashes = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField()
    state = FSMField(default=AnchorState.SENT, choices=AnchorState.choices, protected=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            # One anchor in flight at a time: a second publisher loses on this, not on the relayer's nonce.
            models.UniqueConstraint(fields=["state"], condition=models.Q(state="sent"), name="journal_anchor_one_sent"),
        ]

    def __str__(self) -> str:
        return f"anchor of #{self.seq} ({self.state})"

    @transition(field=state, source=AnchorState.SENT, target=AnchorState.SENT)
    def replace(self, *, tx_hash: str, raw: bytes, at: datetime) -> None:
        """Stuck: the same data at the same nonce with higher fees; whichever is mined counts."""
        self.previous_tx_hashes = [*self.previous_tx_hashes, self.tx_hash]
        self.tx_hash, self.raw_tx, self.sent_at = tx_hash, raw, at

    @transition(field=state, source=AnchorState.SENT, target=AnchorState.CONFIRMED)
    def confirm(self, *, tx_hash: str, block_number: int, block_hash: str, at: datetime) -> None:
        if tx_hash != self.tx_hash:  # an earlier version was mined
            self.previous_tx_hashes = [h for h in [*self.previous_tx_hashes, self.tx_hash] if h != tx_hash]
        self.tx_hash, self.block_number, self.block_hash, self.confirmed_at = tx_hash, block_number, block_hash, at

    @transition(field=state, source=AnchorState.SENT, target=AnchorState.FAILED)
    def fail(self, *, reason: str) -> None:
        self.failure_reason = reason
