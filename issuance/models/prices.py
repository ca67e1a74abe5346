from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class GoldPriceState(models.TextChoices):
    PROPOSED = "proposed", "Proposed, awaiting a manager"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected by a manager"
    REFUSED = "refused", "Refused (out of bounds)"


class GoldPriceOrigin(models.TextChoices):
    FEED = "feed", "Price feed"
    MANUAL = "manual", "Manual (four eyes)"


def _is_manager(instance: models.Model, user: Any) -> bool:
    # A role, not a model permission: the manager's group reads everything and decides only this.
    from backoffice.accounts.roles import user_is_manager

    return user_is_manager(user)


class GoldPrice(ConcurrentTransitionMixin, models.Model):
    """USD per fine troy ounce. Only an ACCEPTED price counts (the newest by its time values the
    reserve): a feed reading within bounds, or a manual proposal a manager other than its proposer
    approved. Refused readings stay, with their reason, so the refusal can be seen."""

    usd_per_oz = models.DecimalField(max_digits=14, decimal_places=4)
    source = models.CharField(max_length=100)
    as_of = models.DateTimeField(db_index=True)
    origin = models.CharField(max_length=10, choices=GoldPriceOrigin.choices, default=GoldPriceOrigin.MANUAL)
    state = FSMField(default=GoldPriceState.PROPOSED, choices=GoldPriceState.choices, protected=True)
    round_id = models.DecimalField(max_digits=30, decimal_places=0, null=True, blank=True)  # the feed's uint80
    reason = models.TextField(blank=True)  # why refused or rejected
    # Blank for a feed reading (the worker read it); the proposer of a manual price.
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(usd_per_oz__gt=0), name="gold_price_positive"),
            # One row per feed round: the poller reads the same round many times.
            models.UniqueConstraint(fields=["source", "round_id"], condition=models.Q(round_id__isnull=False),
                                    name="gold_price_feed_round_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.usd_per_oz} USD/oz ({self.source}, {self.as_of:%Y-%m-%d %H:%M})"

    @transition(field=state, source=GoldPriceState.PROPOSED, target=GoldPriceState.ACCEPTED,
                permission=_is_manager, custom={"label": "Approve"})
    def approve(self, *, by: Any, at: datetime) -> None:
        self.decided_by, self.decided_at = by, at

    @transition(field=state, source=GoldPriceState.PROPOSED, target=GoldPriceState.REJECTED,
                permission=_is_manager, custom={"label": "Reject"})
    def reject(self, *, by: Any, at: datetime, reason: str) -> None:
        self.decided_by, self.decided_at, self.reason = by, at, reason


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
