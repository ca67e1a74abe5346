from __future__ import annotations

from django.conf import settings
from django.db import models


class GoldPrice(models.Model):
    """USD per fine troy ounce, as entered; the latest one (by its time) values the reserve."""

    usd_per_oz = models.DecimalField(max_digits=14, decimal_places=4)
    source = models.CharField(max_length=100)
    as_of = models.DateTimeField(db_index=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(usd_per_oz__gt=0), name="gold_price_positive")]

    def __str__(self) -> str:
        return f"{self.usd_per_oz} USD/oz ({self.source}, {self.as_of:%Y-%m-%d %H:%M})"


class ReserveSnapshot(models.Model):
    """The reserve at one moment, kept to draw reserve value against supply over time."""

    taken_at = models.DateTimeField(db_index=True)
    audited_oz = models.DecimalField(max_digits=16, decimal_places=3)
    pending_oz = models.DecimalField(max_digits=16, decimal_places=3)
    usd_per_oz = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    value_usd = models.DecimalField(max_digits=24, decimal_places=6)
    total_supply = models.DecimalField(max_digits=78, decimal_places=0)  # base units, exact
    block_number = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"reserve at {self.taken_at:%Y-%m-%d %H:%M}"
