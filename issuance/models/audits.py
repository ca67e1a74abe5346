"""Independent audits of a vault: planned, counted, compared with the books, accepted or disputed."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from backoffice.core.files import FileKind, StoredFile, StoredFileField, original_name_field

REPORT = FileKind(key="report", folder="audits/reports", label="audit report")


class AuditState(models.TextChoices):
    PLANNED = "planned", "Planned"
    FIELDWORK = "fieldwork", "Counting at the vault"
    SUBMITTED = "submitted", "Report submitted"
    ACCEPTED = "accepted", "Accepted"
    DISPUTED = "disputed", "Disputed"


class Audit(ConcurrentTransitionMixin, models.Model):
    vault = models.ForeignKey("issuance.Vault", on_delete=models.PROTECT, related_name="audits")
    as_of = models.DateField()
    auditor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audits")
    firm = models.CharField(max_length=200)
    state = FSMField(default=AuditState.PLANNED, choices=AuditState.choices, protected=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    report = StoredFileField(upload_to="audits/reports/", blank=True)
    report_name = original_name_field()
    report_sha256 = models.CharField(max_length=64, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)
    dispute_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        permissions = [
            ("conduct_audit", "Can start fieldwork, submit and conclude an audit"),
        ]

    def __str__(self) -> str:
        return f"audit of {self.vault} as of {self.as_of} ({self.state})"

    def has_no_discrepancy(self) -> bool:
        """a count without discrepancies (dispute it otherwise)"""
        return not self.discrepancies.exists()

    def is_conducted_by(self, user: object) -> bool:
        return getattr(user, "pk", None) == self.auditor_id

    @transition(field=state, source=AuditState.PLANNED, target=AuditState.FIELDWORK,
                permission="issuance.conduct_audit", custom={"label": "Start fieldwork"})
    def start_fieldwork(self) -> None:
        """The auditor is counting in the vault."""

    @transition(field=state, source=AuditState.FIELDWORK, target=AuditState.SUBMITTED,
                permission="issuance.conduct_audit", custom={"admin": False})
    def submit(self, *, report: StoredFile, at: datetime) -> None:
        self.report.name, self.report_sha256, self.submitted_at = report.name, report.sha256, at
        self.report_name = report.original_name

    @transition(field=state, source=AuditState.SUBMITTED, target=AuditState.ACCEPTED,
                permission="issuance.conduct_audit", conditions=[has_no_discrepancy],  # type: ignore[list-item]
                custom={"label": "Accept (count matches the books)"})
    def accept(self, *, at: datetime) -> None:
        self.concluded_at = at

    @transition(field=state, source=AuditState.SUBMITTED, target=AuditState.DISPUTED,
                permission="issuance.conduct_audit", custom={"label": "Dispute"})
    def dispute(self, *, reason: str, at: datetime) -> None:
        self.dispute_reason, self.concluded_at = reason, at


class AuditCount(models.Model):
    """One bar as the auditor counted it in the vault."""

    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="counts")
    serial = models.CharField(max_length=50)
    refiner = models.CharField(max_length=100)
    year = models.PositiveSmallIntegerField()
    gross_oz = models.DecimalField(max_digits=12, decimal_places=3)
    fineness = models.DecimalField(max_digits=6, decimal_places=2)
    fine_oz = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["refiner", "serial"]
        constraints = [
            models.UniqueConstraint(fields=["audit", "refiner", "serial"], name="audit_count_unique_bar"),
        ]

    def __str__(self) -> str:
        return f"{self.refiner} {self.serial} (audit {self.audit_id})"


class DiscrepancyKind(models.TextChoices):
    MISSING = "missing", "In the books, not counted"
    UNEXPECTED = "unexpected", "Counted, not in the books"
    WEIGHT = "weight", "Weight differs"
    FINENESS = "fineness", "Fineness differs"


class Discrepancy(models.Model):
    audit = models.ForeignKey(Audit, on_delete=models.PROTECT, related_name="discrepancies")
    kind = models.CharField(max_length=20, choices=DiscrepancyKind.choices)
    bar = models.ForeignKey("issuance.Bar", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    refiner = models.CharField(max_length=100)
    serial = models.CharField(max_length=50)
    expected = models.CharField(max_length=100, blank=True)
    counted = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["refiner", "serial", "kind"]
        verbose_name_plural = "discrepancies"

    def __str__(self) -> str:
        return f"{self.kind}: {self.refiner} {self.serial}"
