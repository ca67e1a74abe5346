"""The manager's history: what concerns one address, or one object, newest first, each item linking to
its object (admin change page, or the signing page of a multisig transaction).

The kernel gathers what it owns (indexed chain events, approvals and signatures, multisig executions,
journal entries); the apps contribute theirs through settings, so nothing here imports them:
- settings.TIMELINE_ADDRESS_SOURCES: paths of `(address) -> Contribution` (proposals, cases, the
  register, screening hits of that address, and the objects whose journal entries belong to it);
- settings.TIMELINE_OBJECTS: model label -> path of `(obj) -> list[Model]`, the related objects whose
  history is part of that object's (a proposal's multisig transaction, a case's proposals). Only the
  models named there have a per-object timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from backoffice.chain.addresses import address_normalize
from backoffice.chain.models import ChainEvent
from backoffice.core.errors import InvalidInput
from backoffice.journal.models import JournalEntry
from backoffice.journal.selectors import journal_entries_filter

from .models import Confirmation, MultisigTransaction

# The event arguments that name an address: Transfer from/to, Issue to (from the executed calldata),
# blacklist changes and destroy _user / _blackListedUser, ApproveHash owner.
ADDRESS_ARGS = ("from", "to", "_user", "_blackListedUser", "owner")


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # "journal", "chain", "approval", "execution", or what an app names (e.g. "case")
    title: str
    url: str = ""
    actor: str = ""
    detail: str = ""
    block: int | None = None
    tx_hash: str = ""
    # Ties at the same instant keep a stable order (e.g. journal seq, log index).
    order: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "title": self.title, "url": self.url,
                "actor": self.actor, "detail": self.detail, "block": self.block, "tx_hash": self.tx_hash}

    def as_row(self) -> list[Any]:
        """The item as a CSV row (TIMELINE_COLUMNS)."""
        return [self.at.isoformat(), self.kind, self.title, self.actor, self.block, self.tx_hash, self.detail,
                self.url]


TIMELINE_COLUMNS = ["at", "kind", "title", "actor", "block", "tx_hash", "detail", "url"]


@dataclass
class Contribution:
    """What an app adds to an address's timeline: its own items, and the objects whose journal entries
    (and, for multisig transactions, approvals and execution) belong there too."""

    items: list[TimelineItem] = field(default_factory=list)
    objects: list[models.Model] = field(default_factory=list)


def admin_url(obj: models.Model) -> str:
    """The object's admin change page, or the signing page for a multisig transaction."""
    if isinstance(obj, MultisigTransaction):
        return reverse("multisig:sign", args=[obj.pk])
    meta = obj._meta
    try:
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def _newest_first(items: Iterable[TimelineItem]) -> list[TimelineItem]:
    return sorted(items, key=lambda i: (i.at, i.order), reverse=True)


# --- the kernel's own items ---------------------------------------------------------------------
def _journal_items(entries: Iterable[JournalEntry]) -> list[TimelineItem]:
    found = []
    for entry in entries:
        state = f" ({entry.state_before} -> {entry.state_after})" if entry.state_after else ""
        found.append(TimelineItem(
            at=entry.created_at, kind="journal", title=f"#{entry.seq} {entry.action}{state}",
            url=reverse("admin:journal_journalentry_change", args=[entry.pk]),
            actor=entry.actor_username, detail=entry.reason, order=entry.seq))
    return found


def _objects_q(objects: Iterable[models.Model]) -> Q:
    q = Q(pk__in=[])
    for obj in objects:
        q |= Q(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return q


def _event_item(event: ChainEvent, *, url: str = "") -> TimelineItem:
    args = ", ".join(f"{k}={v}" for k, v in sorted(event.args.items()))
    return TimelineItem(at=event.created_at, kind="chain", title=f"{event.name} on the {event.role} contract",
                        url=url or admin_url(event), detail=args, block=event.block_number,
                        tx_hash=event.tx_hash, order=event.block_number * 1_000_000 + event.log_index)


def _event_items(events: Iterable[ChainEvent]) -> list[TimelineItem]:
    """Chain events, each linking to the multisig transaction that executed it when there is one."""
    events = list(events)
    executed = {tx.relayer_tx_hash.lower(): tx for tx in MultisigTransaction.objects.filter(
        relayer_tx_hash__in={e.tx_hash for e in events} | {e.tx_hash.lower() for e in events}).exclude(
        relayer_tx_hash="")}
    return [_event_item(e, url=admin_url(executed[e.tx_hash.lower()]) if e.tx_hash.lower() in executed else "")
            for e in events]


def _transaction_items(transactions: Iterable[MultisigTransaction]) -> list[TimelineItem]:
    """Each transaction's approvals or signatures (time, signer, and the on-chain approval's block and
    hash) and its execution on chain (block and hash)."""
    found = []
    for tx in transactions:
        url = admin_url(tx)
        for c in tx.confirmations.all():
            who = c.signer.user.get_username() if c.signer is not None else "an owner bound to no user"
            how = "approved on chain" if c.event is not None else "signed"
            found.append(TimelineItem(
                at=c.created_at, kind="approval", title=f"{how} by {who} ({c.owner_address})", url=url,
                actor=who, block=c.event.block_number if c.event else None,
                tx_hash=c.event.tx_hash if c.event else "", order=c.pk))
        if tx.executed_at is not None or tx.block_number is not None:
            found.append(TimelineItem(
                at=tx.executed_at or tx.sent_at or tx.created_at, kind="execution",
                title=f"multisig transaction {tx.pk} on chain ({tx.state})", url=url,
                detail=tx.failure_reason, block=tx.block_number, tx_hash=tx.relayer_tx_hash, order=tx.pk))
    return found


def _history(objects: list[models.Model]) -> list[TimelineItem]:
    """Journal entries of `objects`, and approvals and executions of the multisig transactions among them."""
    transactions = MultisigTransaction.objects.filter(
        pk__in=[o.pk for o in objects if isinstance(o, MultisigTransaction)]).prefetch_related(
        "confirmations__signer__user", "confirmations__event")
    entries = JournalEntry.objects.filter(_objects_q(objects)) if objects else JournalEntry.objects.none()
    return [*_journal_items(entries), *_transaction_items(transactions)]


# --- per address --------------------------------------------------------------------------------
def timeline_address_parse(value: str) -> str:
    """The address checksummed; InvalidInput (nothing looked up) when it is not an address."""
    checksummed = address_normalize(value or "")
    if checksummed is None:
        raise InvalidInput(f"'{value[:80]}' is not an address (0x followed by 40 hexadecimal digits)",
                           field="address")
    return checksummed


def address_timeline(*, address: str) -> list[TimelineItem]:
    """Everything that concerns `address`, newest first: the apps' items (proposals, cases, register,
    screening), indexed chain events naming it (transfers in and out, issues to it, blacklist changes,
    its approvals as an owner), signatures it gave, and journal entries of those objects or naming it.
    Reads only. InvalidInput when `address` is not an address."""
    address = timeline_address_parse(address)
    items: list[TimelineItem] = []
    objects: list[models.Model] = []
    for path in settings.TIMELINE_ADDRESS_SOURCES:
        source: Callable[[str], Contribution] = import_string(path)
        contribution = source(address)
        items += contribution.items
        objects += contribution.objects
    arg_q = Q(pk__in=[])
    for name in ADDRESS_ARGS:
        arg_q |= Q(**{f"args__{name}": address})
    items += _event_items(ChainEvent.objects.filter(arg_q).order_by("-block_number", "-log_index"))
    signed = Confirmation.objects.filter(owner_address=address, event__isnull=True).select_related(
        "transaction", "signer__user")
    items += [TimelineItem(at=c.created_at, kind="approval", title=f"signed multisig transaction {c.transaction_id}",
                           url=admin_url(c.transaction), actor=c.signer.user.get_username() if c.signer else "",
                           order=c.pk) for c in signed]
    # Journal entries of the objects that concern the address, and any entry naming it: in its data or
    # object id (the journal's reference index, one B-tree lookup) or in a reason typed by hand (the
    # trigram index on reasons, any letter case). Never a scan of the journal's JSON.
    seen = {i.order for i in items if i.kind == "journal"}
    history = _history(objects)
    mentioned = journal_entries_filter(filters={"q": address})
    for item in [*history, *_journal_items(mentioned)]:
        if item.kind == "journal":
            if item.order in seen:
                continue
            seen.add(item.order)
        items.append(item)
    return _newest_first(items)


# --- per object ---------------------------------------------------------------------------------
def timeline_model(label: str) -> type[models.Model]:
    """The model of a per-object timeline ("issuance.ownerproposal"); LookupError for any other."""
    if label not in settings.TIMELINE_OBJECTS:
        raise LookupError(f"no timeline for '{label}'")
    return apps.get_model(label)


def object_timeline(*, obj: models.Model) -> list[TimelineItem]:
    """The object's journal entries, and those of its related objects (settings.TIMELINE_OBJECTS), with
    the approvals or signatures and on-chain execution of their multisig transactions, newest first."""
    related: Callable[[models.Model], list[models.Model]] = import_string(
        settings.TIMELINE_OBJECTS[obj._meta.label_lower])
    return _newest_first(_history([obj, *related(obj)]))
