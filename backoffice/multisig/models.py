"""Multisig signers, transactions and their confirmations: the kernel both multisigs share."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from backoffice.chain.models import MultisigKind, MultisigRole

__all__ = ["Confirmation", "MultisigKind", "MultisigRole", "MultisigTransaction", "RawState", "RawSubmission",
           "ReconciliationAlert", "Signer", "TxState", "transaction_status_label"]


class Signer(models.Model):
    """Binds one user to one checksummed address that signs for one of the two multisigs."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signer")
    address = models.CharField(max_length=42, unique=True)
    multisig = models.CharField(max_length=20, choices=MultisigRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["multisig", "address"]

    def __str__(self) -> str:
        return f"{self.user} {self.address} ({self.multisig})"


class TxState(models.TextChoices):
    AWAITING_SIGNATURES = "awaiting_signatures"
    APPROVED = "approved"
    BROADCASTING = "broadcasting"
    SUBMITTED = "submitted"
    EXECUTED = "executed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


# The one definition of each group of states; every app and page uses these.
# Not yet handed to the chain: gathering signatures, or signed and waiting for the broadcaster. It can
# still be withdrawn, and an owner's own execution on chain can still overtake it.
UNSENT_STATES = (TxState.AWAITING_SIGNATURES, TxState.APPROVED)
# Sent to the node, or about to be: it may be mined whatever our rows say.
SENDING_STATES = (TxState.BROADCASTING, TxState.SUBMITTED)
# Not yet executed and not given up: queued, signed, being sent, or sent but unconfirmed.
PENDING_STATES = (*UNSENT_STATES, *SENDING_STATES)
# States in which a transaction holds its nonce (pending, or executed).
LIVE_STATES = (*PENDING_STATES, TxState.EXECUTED)
# Given up: its nonce is free for another transaction.
ABANDONED_STATES = (TxState.CANCELLED, TxState.FAILED, TxState.REJECTED)
# Nothing more will happen to it by itself (the signing page stops polling).
FINAL_STATES = (TxState.EXECUTED, *ABANDONED_STATES)


def transaction_status_label(*, state: str, threshold: int, confirmations: int, block_number: int | None,
                             failure_reason: str) -> str:
    """`MultisigTransaction.status_label` from the values alone, for lists that read rows, not models."""
    if state == TxState.AWAITING_SIGNATURES:
        missing = max(threshold - confirmations, 0)
        return f"Awaiting {missing} more approval{'s' if missing != 1 else ''}"
    if state == TxState.APPROVED:
        return "Approved, waiting to be sent"
    if state == TxState.BROADCASTING:
        return "Being sent"
    if state == TxState.SUBMITTED:
        return "Sent, waiting for confirmation"
    if state == TxState.EXECUTED:
        return f"Executed in block {block_number}" if block_number is not None else "Executed"
    if state == TxState.FAILED:
        return f"Failed: {failure_reason}" if failure_reason else "Failed"
    if state == TxState.CANCELLED:
        return "Cancelled"
    return "Rejected"


class MultisigTransaction(ConcurrentTransitionMixin, models.Model):
    """One SafeTx, frozen when created: its fields and hash never change afterwards."""

    multisig = models.CharField(max_length=20, choices=MultisigRole.choices)
    safe_address = models.CharField(max_length=42)
    chain_id = models.PositiveBigIntegerField()
    to = models.CharField(max_length=42)
    value = models.DecimalField(max_digits=78, decimal_places=0, default=0)  # uint256, exact
    data = models.BinaryField()
    operation = models.PositiveSmallIntegerField(default=0)
    nonce = models.PositiveBigIntegerField()
    # Unique among live transactions: a withdrawn one's identical call may be proposed again.
    safe_tx_hash = models.CharField(max_length=66, db_index=True)
    threshold = models.PositiveSmallIntegerField()
    decoded = models.JSONField(default=dict, blank=True)  # the call for humans: function and arguments
    # A rejection burns a nonce with an empty call to the multisig itself, so a cancelled,
    # already-signed transaction can never run and later nonces are not stuck behind it.
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="rejections")
    cancel_reason = models.TextField(blank=True)
    # When the relayer transaction was last (re)signed: a stuck one is replaced after a while.
    sent_at = models.DateTimeField(null=True, blank=True)
    # Hashes of relayer transactions this one replaced (same relayer nonce): any of them may be mined.
    previous_tx_hashes = models.JSONField(default=list, blank=True)
    state = FSMField(default=TxState.AWAITING_SIGNATURES, choices=TxState.choices, protected=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Execution facts. The raw transaction and its hash are stored BEFORE it is sent, so a retry
    # re-sends these exact bytes and can never produce a second, different transaction.
    relayer_address = models.CharField(max_length=42, blank=True)
    relayer_nonce = models.PositiveBigIntegerField(null=True, blank=True)
    relayer_tx_hash = models.CharField(max_length=66, blank=True)
    relayer_raw_tx = models.BinaryField(null=True, blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["safe_address", "nonce"],
                condition=~models.Q(state__in=list(ABANDONED_STATES)),
                name="multisig_tx_one_live_per_nonce",
            ),
            models.UniqueConstraint(
                fields=["safe_tx_hash"],
                condition=~models.Q(state__in=list(ABANDONED_STATES)),
                name="multisig_tx_one_live_per_hash",
            ),
            # Two broadcasts can never claim the same relayer nonce, whatever the race.
            models.UniqueConstraint(
                fields=["relayer_address", "relayer_nonce"],
                condition=models.Q(relayer_nonce__isnull=False),
                name="multisig_tx_unique_relayer_nonce",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} (nonce {self.nonce}, {self.status_label})"

    @property
    def subject(self) -> models.Model | None:
        """The proposal this transaction carries out (an app's model with a one-to-one to it, e.g. an
        owner or a compliance proposal); a rejection's is the proposal of the transaction it cancels."""
        if self.replaces_id is not None and self.replaces is not None:
            return self.replaces.subject
        for relation in self._meta.related_objects:
            if relation.one_to_one:
                try:
                    found: models.Model = getattr(self, relation.get_accessor_name() or "")
                except ObjectDoesNotExist:
                    continue
                return found
        return None

    @property
    def reference(self) -> str:
        """The one public number of what this transaction does: its proposal's (e.g. ISS-0003), or its
        own (TX-0004) when no proposal carries it; a rejection names what it rejects."""
        subject = self.subject
        own = getattr(subject, "reference", None) or f"TX-{self.pk:04d}"
        return f"{own} rejection" if self.replaces_id is not None else own

    @property
    def status_label(self) -> str:
        """The state as people say it: how many approvals are missing, where it was executed, why it failed."""
        awaiting = self.state == TxState.AWAITING_SIGNATURES
        return transaction_status_label(state=self.state, threshold=self.threshold,
                                        confirmations=self.confirmations_count() if awaiting else 0,
                                        block_number=self.block_number, failure_reason=self.failure_reason)

    def confirmations_count(self) -> int:
        return self.confirmations.count()

    def has_threshold(self) -> bool:
        """the threshold of valid signatures"""
        return self.confirmations_count() >= self.threshold

    # django-fsm-2 types conditions as taking any Model; ours needs this model's confirmations.
    @transition(field=state, source=TxState.AWAITING_SIGNATURES, target=TxState.APPROVED,
                conditions=[has_threshold])  # type: ignore[list-item]
    def approve(self) -> None:
        """Enough valid confirmations are stored."""

    @transition(field=state, source=TxState.APPROVED, target=TxState.AWAITING_SIGNATURES)
    def unapprove(self) -> None:
        """On-chain approvals counted for it were undone by a reorg before it was sent."""

    # From `failed` too: a broadcaster that found the nonce already used marks it failed, but an
    # ExecutionSuccess for exactly this safeTxHash proves it was this transaction that used it.
    @transition(field=state, source=[*UNSENT_STATES, TxState.FAILED], target=TxState.EXECUTED)
    def execute_seen(self, *, sender: str, tx_hash: str, block_number: int, block_hash: str,
                     executed_at: datetime) -> None:
        """The chain watcher saw it executed by a transaction the back-office did not send (an owner's
        wallet, a raw transaction handed in): the chain is the record."""
        self.relayer_address, self.relayer_tx_hash = sender, tx_hash
        self.block_number, self.block_hash, self.executed_at = block_number, block_hash, executed_at

    @transition(field=state, source=TxState.APPROVED, target=TxState.BROADCASTING)
    def broadcast(self, *, relayer_address: str, relayer_nonce: int, tx_hash: str, raw: bytes,
                  at: datetime) -> None:
        self.relayer_address, self.relayer_nonce = relayer_address, relayer_nonce
        self.relayer_tx_hash, self.relayer_raw_tx, self.sent_at = tx_hash, raw, at

    @transition(field=state, source=list(SENDING_STATES), target=TxState.SUBMITTED)
    def replace_relayer_tx(self, *, tx_hash: str, raw: bytes, at: datetime) -> None:
        """Same relayer nonce, higher fees: whichever of the two is mined settles the transaction."""
        self.previous_tx_hashes = [*self.previous_tx_hashes, self.relayer_tx_hash]
        self.relayer_tx_hash, self.relayer_raw_tx, self.sent_at = tx_hash, raw, at

    @transition(field=state, source=TxState.EXECUTED, target=TxState.SUBMITTED)
    def reorg(self) -> None:
        """The block that held the receipt is no longer canonical: follow the transaction again."""
        self.block_number, self.block_hash, self.gas_used, self.executed_at = None, "", None, None

    @transition(field=state, source=TxState.BROADCASTING, target=TxState.SUBMITTED)
    def submit(self) -> None:
        """The node accepted the raw transaction."""

    @transition(field=state, source=list(SENDING_STATES), target=TxState.EXECUTED)
    def execute(self, *, block_number: int, block_hash: str, gas_used: int, executed_at: datetime) -> None:
        self.block_number, self.block_hash, self.gas_used = block_number, block_hash, gas_used
        self.executed_at = executed_at

    @transition(field=state, source=TxState.APPROVED, target=TxState.FAILED)
    def abandon(self, *, reason: str) -> None:
        """Refused before anything was sent (guard, simulation, nonce taken). Only from `approved`:
        once a broadcaster has claimed the row, only the receipt may say it failed."""
        self.failure_reason = reason

    @transition(field=state, source=list(SENDING_STATES), target=TxState.FAILED)
    def fail(self, *, reason: str, block_number: int | None = None, block_hash: str = "",
             gas_used: int | None = None) -> None:
        self.failure_reason = reason
        self.block_number, self.block_hash, self.gas_used = block_number, block_hash, gas_used

    @transition(field=state, source=list(UNSENT_STATES), target=TxState.CANCELLED)
    def cancel(self, *, reason: str) -> None:
        """Withdrawn before it was sent."""
        self.cancel_reason = reason

    @transition(field=state, source=TxState.AWAITING_SIGNATURES, target=TxState.REJECTED)
    def reject(self, *, reason: str) -> None:
        """An owner refused it before approval."""
        self.cancel_reason = reason


class Confirmation(models.Model):
    """One owner's consent to a transaction's safeTxHash: a verified EIP-712 signature (Safe), or an
    `approveHash` seen on chain by the watcher (USDKG multisig), whose indexed event it points to: a
    reorg that removes the event removes the approval with it. An on-chain approval by an owner that
    no user is bound to has no signer, and is shown as such."""

    transaction = models.ForeignKey(MultisigTransaction, on_delete=models.PROTECT, related_name="confirmations")
    signer = models.ForeignKey(Signer, null=True, blank=True, on_delete=models.PROTECT, related_name="confirmations")
    owner_address = models.CharField(max_length=42)
    signature = models.BinaryField(null=True, blank=True)
    event = models.OneToOneField("chain.ChainEvent", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="confirmation")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "signer"], name="confirmation_one_per_signer"),
            models.UniqueConstraint(fields=["transaction", "owner_address"], name="confirmation_one_per_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.owner_address} on {self.transaction_id}"


class RawState(models.TextChoices):
    RECEIVED = "received"
    SENT = "sent"
    REFUSED = "refused"


class RawSubmission(ConcurrentTransitionMixin, models.Model):
    """A signed transaction an owner handed in (offline or hardware signer) for a USDKG multisig
    transaction: `approveHash` of exactly it at the head, or its `execTransaction` once approved.
    The bytes are stored before anything is checked or sent; the worker validates, then sends."""

    transaction = models.ForeignKey(MultisigTransaction, on_delete=models.PROTECT, related_name="raw_submissions")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    raw = models.BinaryField()
    tx_hash = models.CharField(max_length=66)
    function = models.CharField(max_length=32, blank=True)  # approveHash or execTransaction, once validated
    state = FSMField(default=RawState.RECEIVED, choices=RawState.choices, protected=True)
    refusal = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tx_hash"], name="raw_submission_unique_hash")]

    def __str__(self) -> str:
        return f"raw {self.tx_hash[:10]}… for {self.transaction_id} ({self.state})"

    @transition(field=state, source=RawState.RECEIVED, target=RawState.SENT)
    def send(self, *, function: str, at: datetime) -> None:
        self.function, self.sent_at = function, at

    # From `sent` too: the node refused the bytes (e.g. the nonce was used meanwhile).
    @transition(field=state, source=[RawState.RECEIVED, RawState.SENT], target=RawState.REFUSED)
    def refuse(self, *, reason: str) -> None:
        self.refusal = reason


class ReconciliationAlert(models.Model):
    """A reconciliation finding: a failing check, or a privileged event on chain that no executed
    proposal here accounts for. Shown to every staff user until a manager acknowledges it with a
    reason. `key` makes each finding one alert: an unauthorised event by its (tx hash, log index), a
    failing check by its name and what was found, so a failure that persists is not raised again."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20)  # "check" or "unauthorised_event"
    title = models.CharField(max_length=200)
    detail = models.JSONField(default=dict)
    block_number = models.PositiveBigIntegerField()
    raised_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["raised_at"], condition=models.Q(acknowledged_at__isnull=True),
                                name="reconciliation_alert_open")]

    def __str__(self) -> str:
        return self.title
