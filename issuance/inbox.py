"""Issuance's part of each user's inbox (settings.INBOX_SOURCES) and of its notifications: the owner
proposals a user proposed and where they stand, the audits assigned to them, the deposits waiting for
their confirmation (a custodian's), and the notice to an auditor that an audit is theirs."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from backoffice.accounts.inbox import InboxItem
from backoffice.accounts.models import NotificationKind
from backoffice.accounts.notifications import notify
from backoffice.multisig.models import PENDING_STATES
from backoffice.multisig.timeline import admin_url

from .models import Audit, AuditState, Deposit, DepositState, OwnerProposal, ProposalState

# The deposit step each permission confirms: a custodian confirms the bars are in the vault, then their
# weights and assay.
DEPOSIT_STEPS = {DepositState.DRAFT: ("issuance.receive_deposit", "Confirm received"),
                 DepositState.RECEIVED: ("issuance.verify_deposit", "Confirm weights and assay")}
AUDIT_STEPS = {AuditState.PLANNED: "Start fieldwork", AuditState.FIELDWORK: "Count the bars and submit the report",
               AuditState.SUBMITTED: "Accept or dispute"}


def proposals_mine(user: User) -> list[InboxItem]:
    """Owner proposals `user` created: drafts (to propose), pending ones, and those settled lately."""
    since = timezone.now() - timedelta(days=settings.INBOX_RECENT_DAYS)
    proposals = (OwnerProposal.objects.filter(created_by_id=user.pk)
                 .filter(Q(state=ProposalState.DRAFT) | Q(transaction__state__in=PENDING_STATES)
                         | Q(created_at__gte=since))
                 .select_related("transaction").prefetch_related("transaction__confirmations")[:50])
    return [InboxItem(kind="proposal", reference=p.reference, title=str(p).removeprefix(f"{p.reference} "),
                      status=p.status_label, url=admin_url(p), at=p.created_at,
                      note="not yet proposed to the owners" if p.state == ProposalState.DRAFT else "",
                      action=p.state == ProposalState.DRAFT)
            for p in proposals]


def audits_assigned(user: User) -> list[InboxItem]:
    audits = Audit.objects.filter(auditor_id=user.pk, state__in=list(AUDIT_STEPS)).select_related("vault")
    return [InboxItem(kind="audit", reference=f"Audit #{a.pk}", title=f"Audit of {a.vault} as of {a.as_of}",
                      status=a.get_state_display(), url=admin_url(a), at=a.created_at, note=AUDIT_STEPS[a.state])
            for a in audits]


def deposits_to_confirm(user: User) -> list[InboxItem]:
    """Deposits at a step `user`'s permissions confirm (the custodian's)."""
    states = [state for state, (permission, _) in DEPOSIT_STEPS.items() if user.has_perm(permission)]
    if not states:
        return []
    deposits = (Deposit.objects.filter(state__in=states).select_related("vault").annotate(bar_count=Count("bars"))
                .order_by("created_at", "pk"))
    items = []
    for d in deposits:
        note = DEPOSIT_STEPS[d.state][1]
        if d.state == DepositState.DRAFT and not d.bar_count:
            note += " (no bars listed yet)"
        items.append(InboxItem(kind="deposit", reference=d.reference, title=f"Deposit by {d.depositor} in {d.vault}",
                               status=d.get_state_display(), url=admin_url(d), at=d.created_at, note=note))
    return items


def audit_assigned_notify(audit: Audit) -> None:
    """Tell the auditor an audit was assigned to them (in the planning's database transaction)."""
    notify(users=[audit.auditor], kind=NotificationKind.AUDIT_ASSIGNED, key=f"audit:{audit.pk}",
           subject=f"Audit #{audit.pk} of {audit.vault} as of {audit.as_of} is assigned to you",
           body=f"{audit.created_by} planned an audit of {audit.vault} as of {audit.as_of} ({audit.firm}) and named "
                "you its auditor. Start the fieldwork from its page.",
           url=admin_url(audit))
