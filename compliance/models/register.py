"""The frozen-address register and the sanctions screening list."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from backoffice.core.files import FileKind, StoredFileField, original_name_field

SCREENING_LIST = FileKind(key="screening", folder="compliance/screening", label="screening list")


class FrozenAddress(models.Model):
    """One row per address compliance has ever acted on; also the per-address lock for proposals.

    `expected_blacklisted` follows our executed transactions; `on_chain_blacklisted` is what the
    token says when last read. They must agree; a disagreement is flagged as a mismatch.
    """

    address = models.CharField(max_length=42, unique=True)
    case = models.ForeignKey("compliance.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    expected_blacklisted = models.BooleanField(default=False)
    on_chain_blacklisted = models.BooleanField(null=True)
    balance = models.DecimalField(max_digits=78, decimal_places=0, null=True)  # base units, as last read
    last_transaction = models.ForeignKey("multisig.MultisigTransaction", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)
    checked_block = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["address"]
        verbose_name = "frozen-address register entry"
        verbose_name_plural = "frozen-address register"

    def __str__(self) -> str:
        return self.address

    @property
    def mismatch(self) -> bool:
        return self.on_chain_blacklisted is not None and self.on_chain_blacklisted != self.expected_blacklisted


class ScreeningImport(models.Model):
    file = StoredFileField(upload_to="compliance/screening/")
    file_name = original_name_field()
    sha256 = models.CharField(max_length=64)
    source = models.CharField(max_length=100)
    list_name = models.CharField(max_length=100)
    listed_on = models.DateField()
    rows = models.PositiveIntegerField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.list_name} ({self.source}, {self.listed_on})"


class ScreeningEntry(models.Model):
    batch = models.ForeignKey(ScreeningImport, on_delete=models.PROTECT, related_name="entries")
    address = models.CharField(max_length=42, db_index=True)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["address"]
        verbose_name_plural = "screening entries"
        constraints = [models.UniqueConstraint(fields=["batch", "address"], name="screening_unique_in_batch")]

    def __str__(self) -> str:
        return self.address
