"""Compliance's part of the manager's history (registered in settings.TIMELINE_ADDRESS_SOURCES and
settings.TIMELINE_OBJECTS, so the kernel's timeline never imports this app)."""

from __future__ import annotations

from django.db import models

from backoffice.multisig.timeline import Contribution, TimelineItem, admin_url

from .models import Case, ComplianceProposal, FrozenAddress, ScreeningEntry


def address_contribution(address: str) -> Contribution:
    """Cases and compliance proposals on the address, its register entry, and screening hits."""
    found = Contribution()
    for case in Case.objects.filter(address=address).select_related("opened_by"):
        found.items.append(TimelineItem(at=case.opened_at, kind="case", title=f"{case} opened", url=admin_url(case),
                                        actor=case.opened_by.get_username(), detail=case.reference, order=case.pk))
        found.objects.append(case)
    for p in ComplianceProposal.objects.filter(address=address).select_related("transaction", "created_by"):
        found.items.append(TimelineItem(at=p.created_at, kind="proposal", title=f"compliance proposal: {p}",
                                        url=admin_url(p.transaction), actor=p.created_by.get_username(), order=p.pk))
        found.objects += [p, p.transaction]
    entry = FrozenAddress.objects.filter(address=address).select_related("last_transaction").first()
    if entry is not None:
        found.objects.append(entry)
        if entry.checked_at is not None:
            state = "blacklisted" if entry.on_chain_blacklisted else "not blacklisted"
            found.items.append(TimelineItem(
                at=entry.checked_at, kind="register",
                title=f"register: {state} on chain, expected {'' if entry.expected_blacklisted else 'not '}"
                      f"blacklisted{' (MISMATCH)' if entry.mismatch else ''}",
                url=admin_url(entry), block=entry.checked_block, order=entry.pk))
    for hit in ScreeningEntry.objects.filter(address__iexact=address).select_related("batch"):
        found.items.append(TimelineItem(at=hit.batch.imported_at, kind="screening",
                                        title=f"screening hit: {hit.batch}", url=admin_url(hit.batch),
                                        detail=hit.name, order=hit.pk))
    return found


def case_related(obj: Case) -> list[models.Model]:
    """A case's history includes its proposals and their multisig transactions."""
    proposals = list(obj.proposals.select_related("transaction"))
    return [*proposals, *(p.transaction for p in proposals)]


def proposal_related(obj: ComplianceProposal) -> list[models.Model]:
    return [obj.transaction]
