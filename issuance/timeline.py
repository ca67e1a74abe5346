"""Issuance's part of the manager's history (registered in settings.TIMELINE_ADDRESS_SOURCES and
settings.TIMELINE_OBJECTS, so the kernel's timeline never imports this app)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from backoffice.multisig.timeline import Contribution, TimelineItem, admin_url

from .models import Audit, Deposit, OwnerProposal


def address_contribution(address: str) -> Contribution:
    """Owner proposals paying or naming the address, with their multisig transactions' history."""
    found = Contribution()
    proposals = OwnerProposal.objects.filter(Q(recipient__iexact=address) | Q(arguments__icontains=address[2:])
                                             ).select_related("transaction", "created_by")
    for p in proposals:
        found.items.append(TimelineItem(at=p.created_at, kind="proposal", title=f"owner proposal {p}",
                                        url=admin_url(p), actor=p.created_by.get_username(), detail=p.memo,
                                        order=p.pk))
        found.objects += [p, *([p.transaction] if p.transaction else [])]
    return found


def proposal_related(obj: OwnerProposal) -> list[models.Model]:
    """An owner proposal's history includes its multisig transaction's (approvals, execution)."""
    return [obj.transaction] if obj.transaction is not None else []


def deposit_related(obj: Deposit) -> list[models.Model]:
    """A deposit's history includes the proposals it backs and their transactions (issue on chain)."""
    proposals = list(obj.proposals.select_related("transaction"))
    return [*proposals, *(p.transaction for p in proposals if p.transaction is not None)]


def audit_related(obj: Audit) -> list[models.Model]:
    """An audit is not on chain: its history is its journal entries."""
    return []
