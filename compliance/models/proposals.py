"""Compliance proposals: one token call on the compliance multisig, signed by all five officers.

Like owner proposals, the signing, broadcast and execution states are those of the multisig
transaction created with the proposal; `status` reads them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ComplianceProposal(models.Model):
    case = models.ForeignKey("compliance.Case", on_delete=models.PROTECT, related_name="proposals")
    # The name of a registered compliance action (compliance/actions.py): the registry, not a choice
    # list here, says which exist, so adding an action needs no migration.
    action = models.CharField(max_length=20)
    address = models.CharField(max_length=42, db_index=True)
    # For destroy funds: the balance shown and confirmed by the proposer, in base units.
    balance_confirmed = models.DecimalField(max_digits=78, decimal_places=0, null=True, blank=True)
    transaction = models.OneToOneField("multisig.MultisigTransaction", on_delete=models.PROTECT,
                                       related_name="compliance_proposal")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reference} {self.action_label} {self.address} ({self.status_label})"

    @property
    def reference(self) -> str:
        """The proposal's one public number, in every page, message, export and API answer."""
        return f"CMP-{self.pk:04d}" if self.pk else "CMP-(new)"

    @property
    def status_label(self) -> str:
        return self.transaction.status_label

    @property
    def action_label(self) -> str:
        from backoffice.multisig.actions import action_find

        action = action_find(self.action)
        return str(action.label) if action else self.action

    @property
    def status(self) -> str:
        return str(self.transaction.state)
