"""Owner proposals: what the operator asks the issuance multisig (3 of 7 owners) to do.

A proposal is drafted here; proposing it freezes a multisig transaction (nonce, SafeTx, hash), whose
own state machine then carries it through signatures, broadcast and execution. The proposal's
`status` is therefore its own state while a draft (or cancelled draft), and its transaction's after.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class ProposalState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Proposed to the owners"  # handed to the multisig: see the transaction's state
    CANCELLED = "cancelled", "Cancelled"



# What `status_label` says while there is no transaction (lists that read rows, not models, say it too).
UNPROPOSED_STATUS_LABELS = {ProposalState.DRAFT: "Draft, not yet proposed to the owners",
                            ProposalState.CANCELLED: "Cancelled before it was proposed"}

class OwnerProposal(ConcurrentTransitionMixin, models.Model):
    # The name of a registered owner-proposal action (issuance/actions.py): the registry, not a choice
    # list here, says which exist, so adding an action needs no migration.
    kind = models.CharField(max_length=20)
    amount = models.DecimalField(max_digits=78, decimal_places=0, null=True, blank=True)  # base units, exact
    recipient = models.CharField(max_length=42, blank=True)
    fee_basis_points = models.PositiveSmallIntegerField(null=True, blank=True)
    redemption_reference = models.CharField(max_length=100, blank=True)
    # The values of an action's fields that have no column above (a newly registered action's own
    # inputs), so that adding an action needs no migration either.
    arguments = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    memo = models.TextField(blank=True)
    deposits = models.ManyToManyField("issuance.Deposit", through="issuance.ProposalBacking", blank=True,
                                      related_name="proposals")
    state = FSMField(default=ProposalState.DRAFT, choices=ProposalState.choices, protected=True)
    transaction = models.OneToOneField("multisig.MultisigTransaction", null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="owner_proposal")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    cancel_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("propose_ownerproposal", "Can draft, propose and cancel owner proposals")]

    def __str__(self) -> str:
        from backoffice.multisig.actions import action_find

        action = action_find(self.kind)
        return f"{self.reference} {action.label if action else self.kind} ({self.status_label})"

    @property
    def reference(self) -> str:
        """The proposal's one public number, in every page, message, export and API answer."""
        return f"ISS-{self.pk:04d}" if self.pk else "ISS-(new)"

    @property
    def status(self) -> str:
        if self.transaction is not None:
            return str(self.transaction.state)
        return str(self.state)

    @property
    def status_label(self) -> str:
        if self.transaction is not None:
            return self.transaction.status_label
        return UNPROPOSED_STATUS_LABELS.get(self.state, str(self.state))

    @transition(field=state, source=ProposalState.DRAFT, target=ProposalState.PROPOSED,
                permission="issuance.propose_ownerproposal")
    def propose(self, *, transaction_id: int) -> None:
        self.transaction_id = transaction_id

    @transition(field=state, source=ProposalState.DRAFT, target=ProposalState.CANCELLED,
                permission="issuance.propose_ownerproposal")
    def cancel(self, *, reason: str) -> None:
        self.cancel_reason = reason


class ProposalBacking(models.Model):
    """The part of an issue proposal's amount that one audited deposit backs (base units)."""

    proposal = models.ForeignKey(OwnerProposal, on_delete=models.PROTECT, related_name="backings")
    deposit = models.ForeignKey("issuance.Deposit", on_delete=models.PROTECT, related_name="backings")
    amount = models.DecimalField(max_digits=78, decimal_places=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["proposal", "deposit"], name="backing_one_per_deposit"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="backing_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.deposit} backs {self.amount} of ISS-{self.proposal_id:04d}"
