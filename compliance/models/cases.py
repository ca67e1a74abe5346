"""Cases: why an address is being acted on, with the evidence, explainable to a regulator later."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from backoffice.core.files import FileKind, StoredFileField, original_name_field

EVIDENCE = FileKind(key="evidence", folder="compliance/evidence", label="evidence")


class CaseCategory(models.TextChoices):
    SANCTIONS = "sanctions", "Sanctions match"
    COURT_ORDER = "court_order", "Court order"
    LAW_ENFORCEMENT = "law_enforcement", "Law-enforcement request"
    STOLEN_FUNDS = "stolen_funds", "Stolen funds"
    OTHER = "other", "Other"


class CaseState(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Case(ConcurrentTransitionMixin, models.Model):
    address = models.CharField(max_length=42, db_index=True)
    category = models.CharField(max_length=30, choices=CaseCategory.choices)
    reference = models.CharField(max_length=100, help_text="e.g. the court order's number")
    description = models.TextField()
    state = FSMField(default=CaseState.OPEN, choices=CaseState.choices, protected=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        permissions = [("act_compliance", "Can open cases and propose compliance actions")]

    def __str__(self) -> str:
        return f"case {self.pk}: {self.address} ({self.get_category_display()})"

    @transition(field=state, source=CaseState.OPEN, target=CaseState.CLOSED,
                permission="compliance.act_compliance", custom={"label": "Close case"})
    def close(self, *, reason: str) -> None:
        self.closed_reason = reason


class CaseEvidence(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="evidence")
    file = StoredFileField(upload_to="compliance/evidence/")
    file_name = original_name_field()
    sha256 = models.CharField(max_length=64)
    description = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at"]
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return f"{self.file_name or self.file.name} ({self.sha256[:12]}…)"
