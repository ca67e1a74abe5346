"""Vaults and gold bars, with the fields of the LBMA weight list."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from django.db import models
from django.db.models.functions import Lower

FINE_OZ_QUANTUM = Decimal("0.001")


def fine_weight_compute(gross_oz: Decimal, fineness: Decimal) -> Decimal:
    """Fine troy ounces = gross x fineness / 1000, cut (never rounded up) to 3 decimals.

    Cutting rather than rounding keeps the reserve on the conservative side by at most 0.001 oz.
    """
    return (gross_oz * fineness / Decimal(1000)).quantize(FINE_OZ_QUANTUM, rounding=ROUND_DOWN)


class Vault(models.Model):
    name = models.CharField(max_length=100, unique=True)
    location = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.name


class Bar(models.Model):
    """One bar. (refiner, serial) is unique for ever: a bar can back only one deposit, once."""

    deposit = models.ForeignKey("issuance.Deposit", on_delete=models.PROTECT, related_name="bars")
    vault = models.ForeignKey(Vault, on_delete=models.PROTECT, related_name="bars")
    serial = models.CharField(max_length=50)
    refiner = models.CharField(max_length=100)
    year = models.PositiveSmallIntegerField()
    gross_oz = models.DecimalField(max_digits=12, decimal_places=3)
    fineness = models.DecimalField(max_digits=6, decimal_places=2)
    fine_oz = models.DecimalField(max_digits=12, decimal_places=3)
    # The last accepted audit that counted this bar as the books say; and a disputed audit that
    # found a discrepancy on it later. Only audited and unblocked bars back tokens.
    audited_by = models.ForeignKey("issuance.Audit", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="bars_audited")
    blocked_by = models.ForeignKey("issuance.Audit", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="bars_blocked")

    class Meta:
        ordering = ["refiner", "serial"]
        constraints = [
            # Case-insensitive: "ab123" and "AB123" of one refiner are the same bar stamped twice.
            models.UniqueConstraint(Lower("refiner"), Lower("serial"), name="bar_unique_refiner_serial_ci"),
            models.CheckConstraint(condition=models.Q(gross_oz__gt=0), name="bar_gross_positive"),
            models.CheckConstraint(condition=models.Q(fine_oz__gt=0) & models.Q(fine_oz__lte=models.F("gross_oz")),
                                   name="bar_fine_positive_not_above_gross"),
            models.CheckConstraint(condition=models.Q(fineness__gt=0) & models.Q(fineness__lte=1000),
                                   name="bar_fineness_range"),
        ]

    def __str__(self) -> str:
        return f"{self.refiner} {self.serial}"

    @property
    def is_audited(self) -> bool:
        return self.audited_by_id is not None and self.blocked_by_id is None
