"""Compliance's part of each user's inbox (settings.INBOX_SOURCES): the compliance proposals a user
proposed and where they stand, and the cases they opened that are still open."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from backoffice.accounts.inbox import InboxItem
from backoffice.multisig.models import PENDING_STATES
from backoffice.multisig.timeline import admin_url

from .models import Case, CaseState, ComplianceProposal


def proposals_mine(user: User) -> list[InboxItem]:
    """Compliance proposals `user` created: pending ones, and those settled lately."""
    since = timezone.now() - timedelta(days=settings.INBOX_RECENT_DAYS)
    proposals = (ComplianceProposal.objects.filter(created_by_id=user.pk)
                 .filter(Q(transaction__state__in=PENDING_STATES) | Q(created_at__gte=since))
                 .select_related("transaction").prefetch_related("transaction__confirmations")[:50])
    return [InboxItem(kind="proposal", reference=p.reference, title=f"{p.action_label} {p.address}",
                      status=p.status_label, url=admin_url(p), at=p.created_at, note=f"case #{p.case_id}",
                      action=False)
            for p in proposals]


def cases_opened(user: User) -> list[InboxItem]:
    cases = Case.objects.filter(opened_by_id=user.pk, state=CaseState.OPEN)
    return [InboxItem(kind="case", reference=f"Case #{c.pk}", title=f"{c.get_category_display()}: {c.address}",
                      status=c.get_state_display(), url=admin_url(c), at=c.opened_at, note=c.reference, action=False)
            for c in cases]
