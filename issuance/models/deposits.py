"""Gold deposits: recorded by an operator, confirmed by the custodian, covered by an audit."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from backoffice.core.files import FileKind, StoredFile, StoredFileField, original_name_field


class DepositState(models.TextChoices):
    DRAFT = "draft", "Draft, waiting for the gold"
    RECEIVED = "received", "Received by the vault"
    VERIFIED = "verified", "Weights verified"
    AUDITED = "audited", "Audited"
    REJECTED = "rejected", "Rejected"
    RELEASED = "released", "Released from custody"


RECEIPT = FileKind(key="receipt", folder="deposits/receipts", label="receipt")
IN_CUSTODY = (DepositState.RECEIVED, DepositState.VERIFIED, DepositState.AUDITED)


class Deposit(ConcurrentTransitionMixin, models.Model):
    reference = models.CharField(max_length=50, unique=True)
    depositor = models.CharField(max_length=200)
    vault = models.ForeignKey("issuance.Vault", on_delete=models.PROTECT, related_name="deposits")
    state = FSMField(default=DepositState.DRAFT, choices=DepositState.choices, protected=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    receipt_document = StoredFileField(upload_to="deposits/receipts/", blank=True)
    receipt_name = original_name_field()
    receipt_sha256 = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    audited_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("receive_deposit", "Can confirm a deposit's bars are in the vault"),
            ("verify_deposit", "Can confirm a deposit's weights and assay"),
            ("reject_deposit", "Can reject a deposit"),
            ("release_deposit", "Can record a deposit's gold leaving custody"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.state})"

    def has_bars(self) -> bool:
        """at least one bar on the deposit"""
        return self.bars.exists()

    @transition(field=state, source=DepositState.DRAFT, target=DepositState.RECEIVED,
                permission="issuance.receive_deposit", conditions=[has_bars],  # type: ignore[list-item]
                custom={"label": "Confirm received"})
    def receive(self, *, receipt: StoredFile, at: datetime) -> None:
        self.receipt_document.name, self.receipt_sha256, self.received_at = receipt.name, receipt.sha256, at
        self.receipt_name = receipt.original_name

    @transition(field=state, source=DepositState.RECEIVED, target=DepositState.VERIFIED,
                permission="issuance.verify_deposit", custom={"label": "Confirm weights and assay"})
    def verify(self, *, at: datetime) -> None:
        self.verified_at = at

    @transition(field=state, source=DepositState.VERIFIED, target=DepositState.AUDITED,
                custom={"admin": False})
    def mark_audited(self, *, at: datetime) -> None:
        """Only the audit service moves a deposit here, when an accepted audit covers every bar."""
        self.audited_at = at

    @transition(field=state, source=[DepositState.DRAFT, DepositState.RECEIVED, DepositState.VERIFIED],
                target=DepositState.REJECTED, permission="issuance.reject_deposit", custom={"label": "Reject"})
    def reject(self, *, reason: str) -> None:
        self.rejection_reason = reason

    @transition(field=state, source=DepositState.AUDITED, target=DepositState.RELEASED,
                permission="issuance.release_deposit", custom={"label": "Release (gold left custody)"})
    def release(self) -> None:
        """The gold left the vault after a redemption."""
