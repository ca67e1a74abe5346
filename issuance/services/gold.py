"""Writes on the gold side: deposits, bars, audits and prices. Every state change goes through
`transition_apply` (row lock, FSM transition, journal entry, one database transaction)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from eth_utils import to_checksum_address

from backoffice.chain.client import ChainClient, ChainError
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import decimal_parse
from backoffice.core.errors import InvalidInput
from backoffice.core.files import StoredFile, file_store
from backoffice.journal.services import TransitionRefused, journal_record, transition_apply

from ..barlist import Source
from ..inbox import audit_assigned_notify
from ..models import (
    Audit,
    AuditState,
    Bar,
    Deposit,
    DepositState,
    Discrepancy,
    DiscrepancyKind,
    GoldPrice,
    GoldPriceOrigin,
    GoldPriceState,
    ReserveSnapshot,
    Vault,
)
from ..models.audits import REPORT
from ..models.deposits import IN_CUSTODY, RECEIPT
from ..public.services import reserve_publish_soon
from ..selectors import gold_price_latest, reserve_get
from .staging import StagedBarList, bar_list_stage, staged_bars_insert, staged_counts_insert

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


def _permission_require(actor: User, permission: str, what: str) -> None:
    if not actor.has_perm(permission):
        raise TransitionRefused(f"your role may not {what}")


def _reason_require(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required")
    return reason


def _file_journal(stored: StoredFile, *, actor: User, obj: models.Model, **data: object) -> None:
    journal_record(action="file.uploaded", actor=actor, obj=obj,
                   data={"file": stored.name, "name": stored.original_name, "sha256": stored.sha256,
                         "size": stored.size, **data})


def vault_save(*, vault: Vault, actor: User) -> Vault:
    """Create or rename a vault (administrators only, through the admin), journalled."""
    with transaction.atomic():
        created = vault.pk is None
        vault.save()
        journal_record(action="issuance.vault.created" if created else "issuance.vault.changed", actor=actor,
                       obj=vault, data={"name": vault.name, "location": vault.location})
    return vault


# --- deposits -------------------------------------------------------------------------------

def deposit_create(*, reference: str, depositor: str, vault: Vault, actor: User) -> Deposit:
    """Operator: a draft deposit; its bars come from a bar list (deposit_bars_import)."""
    _permission_require(actor, "issuance.add_deposit", "record deposits")
    reference, depositor = reference.strip(), depositor.strip()
    if not reference or not depositor:
        raise InvalidInput("reference and depositor are required")
    try:
        with transaction.atomic():
            deposit = Deposit.objects.create(reference=reference, depositor=depositor, vault=vault, created_by=actor)
            journal_record(action="issuance.deposit.created", actor=actor, obj=deposit, state_after=deposit.state,
                           data={"reference": reference, "depositor": depositor, "vault": vault.name})
    except IntegrityError as exc:
        raise InvalidInput(f"a deposit with reference {reference} already exists") from exc
    return deposit


def deposit_bars_import(
    *, deposit_id: int, content: Source, actor: User, progress: Progress | None = None
) -> int:
    """Add every bar of a bar list (its bytes or text, or a binary file, read as it streams) to a draft
    deposit, or none of them; returns how many were added.

    Refuses (BarListInvalid, nothing saved) any bad row, and any bar already known to the system
    under the same refiner and serial (in custody or not: a bar backs one deposit, for ever).
    """
    _permission_require(actor, "issuance.add_deposit", "record deposits")
    with bar_list_stage(content, progress=progress) as staged:
        return _deposit_bars_save(deposit_id=deposit_id, staged=staged, actor=actor)


def _deposit_bars_save(*, deposit_id: int, staged: StagedBarList, actor: User, replace: bool = False) -> int:
    """The writing half of deposit_bars_import, for a list already staged and an actor already checked.
    `replace` (confirmed by the uploader): the draft deposit's bars are replaced by these, in one transaction."""
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().get(pk=deposit_id)
        if deposit.state != DepositState.DRAFT:
            raise InvalidInput(f"bars can be added only to a draft deposit; this one is {deposit.state}")
        replaced = deposit.bars.all().delete()[0] if replace else 0
        saved = staged_bars_insert(staged, deposit_id=deposit.pk, vault_id=deposit.vault_id)
        journal_record(action="issuance.deposit.bars_imported", actor=actor, obj=deposit,
                       data={"bars": saved, "fine_oz": str(staged.fine_oz),
                             **({"replaced": replaced} if replace else {})})
    return saved


def deposit_receive(*, deposit_id: int, receipt: File, actor: User) -> Deposit:
    """Custodian: the bars are physically in the vault; the signed receipt is kept with its SHA-256."""
    _permission_require(actor, "issuance.receive_deposit", "confirm deposits")  # before the file is stored
    stored = file_store(upload=receipt, kind=RECEIPT)
    with transaction.atomic():
        deposit = transition_apply(model=Deposit, pk=deposit_id, transition="receive", actor=actor,
                                   params={"receipt": stored, "at": timezone.now()},
                                   data={"receipt": stored.name, "receipt_sha256": stored.sha256})
        _file_journal(stored, actor=actor, obj=deposit)
    return deposit


def deposit_verify(*, deposit_id: int, actor: User) -> Deposit:
    """Custodian: weights and assay checked. If an accepted audit already covers every bar, the
    deposit moves on to audited at once."""
    with transaction.atomic():
        deposit = transition_apply(model=Deposit, pk=deposit_id, transition="verify", actor=actor,
                                   params={"at": timezone.now()})
        _deposits_mark_audited([deposit.pk], actor=actor)
    return deposit


def deposit_reject(*, deposit_id: int, reason: str, actor: User) -> Deposit:
    """Refuses without a reason; allowed before the deposit is audited."""
    reason = _reason_require(reason)
    return transition_apply(model=Deposit, pk=deposit_id, transition="reject", actor=actor, reason=reason,
                            params={"reason": reason})


def deposit_release(*, deposit_id: int, reason: str, actor: User) -> Deposit:
    """Custodian: the gold left custody after a redemption; its bars stop counting at once."""
    reason = _reason_require(reason)
    return transition_apply(model=Deposit, pk=deposit_id, transition="release", actor=actor, reason=reason)


def _deposits_mark_audited(deposit_ids: Sequence[int], *, actor: User | None) -> list[int]:
    """Move verified deposits whose every bar is audited (and none blocked) to `audited`."""
    moved = []
    for deposit_id in sorted(set(deposit_ids)):
        deposit = Deposit.objects.get(pk=deposit_id)
        if deposit.state != DepositState.VERIFIED:
            continue
        unaudited = deposit.bars.filter(Q(audited_by__isnull=True) | Q(blocked_by__isnull=False)).exists()
        if deposit.bars.exists() and not unaudited:
            transition_apply(model=Deposit, pk=deposit_id, transition="mark_audited", actor=actor,
                             check_permission=False, params={"at": timezone.now()},
                             reason="an accepted audit covers every bar")
            moved.append(deposit_id)
    return moved


# --- audits ---------------------------------------------------------------------------------

def audit_plan(*, vault: Vault, as_of: date, auditor: User, firm: str, actor: User) -> Audit:
    """Operator: scope an audit (vault, as-of date) and name the auditor who will conduct it."""
    _permission_require(actor, "issuance.add_audit", "plan audits")
    firm = (firm or "").strip()
    if not firm:
        raise InvalidInput("the audit firm is required")
    if as_of > timezone.localdate():
        raise InvalidInput("an audit cannot be as of a future date")
    if not auditor.has_perm("issuance.conduct_audit"):
        raise InvalidInput(f"{auditor} is not an auditor")
    with transaction.atomic():
        audit = Audit.objects.create(vault=vault, as_of=as_of, auditor=auditor, firm=firm, created_by=actor)
        journal_record(action="issuance.audit.planned", actor=actor, obj=audit, state_after=audit.state,
                       data={"vault": vault.name, "as_of": as_of.isoformat(), "auditor": auditor.get_username()})
        audit_assigned_notify(audit)
    return audit


def _auditor_require(audit_id: int, actor: User) -> None:
    _permission_require(actor, "issuance.conduct_audit", "conduct audits")
    if not Audit.objects.filter(pk=audit_id, auditor_id=actor.pk).exists():
        raise TransitionRefused("only the auditor named on this audit may conduct it")


def audit_start_fieldwork(*, audit_id: int, actor: User) -> Audit:
    _auditor_require(audit_id, actor)
    return transition_apply(model=Audit, pk=audit_id, transition="start_fieldwork", actor=actor)


def audit_counts_import(
    *, audit_id: int, content: Source, actor: User, progress: Progress | None = None
) -> int:
    """The auditor's counted bar list, during fieldwork; a new list replaces the previous one whole."""
    _auditor_require(audit_id, actor)
    with bar_list_stage(content, progress=progress) as staged:
        return _audit_counts_save(audit_id=audit_id, staged=staged, actor=actor)


def _audit_counts_save(*, audit_id: int, staged: StagedBarList, actor: User) -> int:
    """The writing half of audit_counts_import, for a list already staged and an actor already checked."""
    with transaction.atomic():
        audit = Audit.objects.select_for_update().get(pk=audit_id)
        if audit.state != AuditState.FIELDWORK:
            raise InvalidInput(f"counts are recorded during fieldwork; this audit is {audit.state}")
        replaced = audit.counts.count()
        audit.counts.all().delete()
        saved = staged_counts_insert(staged, audit_id=audit.pk)
        journal_record(action="issuance.audit.counts_imported", actor=actor, obj=audit,
                       data={"bars": saved, "replaced": replaced})
    return saved


def _books(audit: Audit) -> dict[tuple[str, str], Bar]:
    """The bars the books say are in the audited vault: deposits in custody, received by the as-of date."""
    bars = Bar.objects.filter(vault_id=audit.vault_id, deposit__state__in=IN_CUSTODY,
                              deposit__received_at__date__lte=audit.as_of)
    return {(b.refiner.casefold(), b.serial.casefold()): b for b in bars}


def audit_submit(*, audit_id: int, report: File, actor: User) -> Audit:
    """Auditor: the report (kept with its SHA-256) and the counted list go in; the count is compared
    with the books, each missing bar, unexpected bar, weight or fineness mismatch a discrepancy."""
    _auditor_require(audit_id, actor)
    stored = file_store(upload=report, kind=REPORT)
    with transaction.atomic():
        audit = transition_apply(model=Audit, pk=audit_id, transition="submit", actor=actor,
                                 params={"report": stored, "at": timezone.now()},
                                 data={"report": stored.name, "report_sha256": stored.sha256})
        books = _books(audit)
        found: list[Discrepancy] = []
        counted_keys = set()
        for count in audit.counts.all():
            key = (count.refiner.casefold(), count.serial.casefold())
            counted_keys.add(key)
            bar = books.get(key)
            if bar is None:
                found.append(Discrepancy(audit=audit, kind=DiscrepancyKind.UNEXPECTED, refiner=count.refiner,
                                         serial=count.serial, counted=f"{count.fine_oz} oz"))
                continue
            if (bar.gross_oz, bar.fine_oz) != (count.gross_oz, count.fine_oz):
                found.append(Discrepancy(audit=audit, kind=DiscrepancyKind.WEIGHT, bar=bar, refiner=bar.refiner,
                                         serial=bar.serial, expected=f"{bar.gross_oz} / {bar.fine_oz} oz",
                                         counted=f"{count.gross_oz} / {count.fine_oz} oz"))
            if bar.fineness != count.fineness:
                found.append(Discrepancy(audit=audit, kind=DiscrepancyKind.FINENESS, bar=bar, refiner=bar.refiner,
                                         serial=bar.serial, expected=str(bar.fineness), counted=str(count.fineness)))
        for key, bar in books.items():
            if key not in counted_keys:
                found.append(Discrepancy(audit=audit, kind=DiscrepancyKind.MISSING, bar=bar, refiner=bar.refiner,
                                         serial=bar.serial, expected=f"{bar.fine_oz} oz"))
        Discrepancy.objects.bulk_create(found, batch_size=2000)
        journal_record(action="issuance.audit.compared", actor=actor, obj=audit,
                       data={"counted": len(counted_keys), "books": len(books), "discrepancies": len(found)})
        _file_journal(stored, actor=actor, obj=audit)
    return audit


def audit_accept(*, audit_id: int, actor: User) -> Audit:
    """Auditor: the count matches the books (refused while any discrepancy exists). Every counted bar
    becomes audited, clearing an earlier dispute; deposits fully covered move to `audited`."""
    _auditor_require(audit_id, actor)
    with transaction.atomic():
        audit = transition_apply(model=Audit, pk=audit_id, transition="accept", actor=actor,
                                 params={"at": timezone.now()})
        # Only bars this audit counted: a deposit received after the submission is not covered by it.
        counted = {(c.refiner.casefold(), c.serial.casefold()) for c in audit.counts.all()}
        bars = [bar for key, bar in _books(audit).items() if key in counted]
        Bar.objects.filter(pk__in=[b.pk for b in bars]).update(audited_by=audit, blocked_by=None)
        _deposits_mark_audited([b.deposit_id for b in bars], actor=actor)
        reserve_publish_soon()  # the audited gold and the last audit are published figures
    return audit


def audit_dispute(*, audit_id: int, reason: str, actor: User) -> Audit:
    """Auditor: the count does not match. Bars with a discrepancy stop backing tokens until a later
    accepted audit clears them."""
    _auditor_require(audit_id, actor)
    reason = _reason_require(reason)
    with transaction.atomic():
        audit = transition_apply(model=Audit, pk=audit_id, transition="dispute", actor=actor, reason=reason,
                                 params={"reason": reason, "at": timezone.now()})
        affected = audit.discrepancies.filter(bar__isnull=False).values_list("bar_id", flat=True)
        Bar.objects.filter(pk__in=list(affected)).update(blocked_by=audit)
        reserve_publish_soon()
    return audit


# --- prices ---------------------------------------------------------------------------------
#
# The price in use is governed, never typed: it is the newest ACCEPTED price, and a price becomes
# accepted only (a) as a feed reading within bounds, read by the worker (gold_price_feed_read), or
# (b) as a manual proposal a manager other than its proposer approves within the same bounds. Out of
# bounds means: not a positive number below PRICE_CEILING, stale (older than GOLD_PRICE_MAX_AGE_SECONDS)
# or moved more than GOLD_PRICE_MAX_MOVE_PERCENT from the last accepted price.

# No gold price has ever come near this (USD per troy ounce): a typo, not a market move.
PRICE_CEILING = Decimal("1000000")
FEED_SOURCE_PREFIX = "feed"
PRICE_LOCK_KEY = 0x60_1D_9E1CE  # any constant no other advisory lock uses


def _price_writers_serialise() -> None:
    """Inside a transaction: one price writer at a time, so two prices are never both judged against
    the same last accepted price. A PostgreSQL transaction-level advisory lock (SQLite, the demo's
    single-writer database, serialises writers anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PRICE_LOCK_KEY])


def _price_parse(usd_per_oz: Decimal | str) -> Decimal:
    """The price as a Decimal of at most 4 decimals, above zero and below the ceiling, or InvalidInput."""
    try:
        price = decimal_parse(usd_per_oz, field="price", places=4)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if price <= 0:
        raise InvalidInput("the price must be above zero")
    if price >= PRICE_CEILING:
        raise InvalidInput(f"the price is implausibly large (at least {PRICE_CEILING:,} USD/oz)")
    return price


def _as_of_check(as_of: datetime) -> None:
    if timezone.is_naive(as_of):
        raise InvalidInput("the price time needs a time zone")
    if as_of > timezone.now():
        raise InvalidInput("the price time is in the future")


def gold_price_bounds_refusal(*, price: Decimal, as_of: datetime, exclude_id: int | None = None) -> str:
    """Why `price` at `as_of` may not become the price in use ("" when it may): stale, or too far
    from the last accepted price (the first price ever has nothing to move from)."""
    max_age = settings.GOLD_PRICE_MAX_AGE_SECONDS
    age = (timezone.now() - as_of).total_seconds()
    if age > max_age:
        return (f"the price is stale: observed {as_of:%Y-%m-%d %H:%M} UTC, {age / 3600:.1f} h ago, "
                f"more than the {max_age / 3600:g} h allowed")
    last = gold_price_latest(exclude_id=exclude_id)
    if last is not None:
        move = (price - last.usd_per_oz) / last.usd_per_oz * 100
        limit = settings.GOLD_PRICE_MAX_MOVE_PERCENT
        if abs(move) > limit:
            return (f"the price {price:,} USD/oz moves {move:+.2f} % from the last accepted {last.usd_per_oz:,} "
                    f"USD/oz, more than the {limit} % allowed")
    return ""


def gold_price_record(*, usd_per_oz: Decimal | str, source: str, as_of: datetime, actor: User) -> GoldPrice:
    """An ACCEPTED price, at once: for fixtures and demo seeding only (the admin and the API propose,
    a manager approves; the worker reads the feed). Refuses, nothing saved, what a proposal refuses:
    a price that is not a positive number with at most 4 decimals below the ceiling, a time in the
    future or without a time zone, an empty source, and a price out of bounds (stale, or moved more
    than allowed from the last accepted one)."""
    _permission_require(actor, "issuance.add_goldprice", "record gold prices")
    price = _price_parse(usd_per_oz)
    _as_of_check(as_of)
    source = (source or "").strip()
    if not source:
        raise InvalidInput("the price source is required")
    with transaction.atomic():
        _price_writers_serialise()
        refusal = gold_price_bounds_refusal(price=price, as_of=as_of)
        if refusal:
            raise InvalidInput(refusal)
        entry = GoldPrice.objects.create(usd_per_oz=price, source=source, as_of=as_of, entered_by=actor,
                                         origin=GoldPriceOrigin.MANUAL, state=GoldPriceState.ACCEPTED)
        journal_record(action="issuance.price.recorded", actor=actor, obj=entry, state_after=entry.state,
                       data={"usd_per_oz": str(price), "source": source, "as_of": as_of.isoformat()})
        reserve_publish_soon()
    return entry


def _older_than_in_use_refusal(as_of: datetime, *, exclude_id: int | None = None) -> str:
    """The newest price by its time is the one in use: an older manual price would never be used."""
    last = gold_price_latest(exclude_id=exclude_id)
    if last is not None and as_of <= last.as_of:
        return (f"the price in use is of {last.as_of:%Y-%m-%d %H:%M:%S} UTC; a price observed at "
                f"{as_of:%Y-%m-%d %H:%M:%S} UTC, no later, would never be used")
    return ""


def gold_price_propose(*, usd_per_oz: Decimal | str, source: str, as_of: datetime, actor: User) -> GoldPrice:
    """Operator: a manual price, PROPOSED; it counts only once a manager other than the proposer
    approves it. Refuses (InvalidInput, nothing saved) bad input as gold_price_record does, a price
    already out of bounds (stale, or moved too far from the last accepted price), and one observed no
    later than the price in use (it would never be used)."""
    _permission_require(actor, "issuance.add_goldprice", "propose gold prices")
    price = _price_parse(usd_per_oz)
    _as_of_check(as_of)
    source = (source or "").strip()
    if not source:
        raise InvalidInput("the price source is required")
    refusal = gold_price_bounds_refusal(price=price, as_of=as_of) or _older_than_in_use_refusal(as_of)
    if refusal:
        raise InvalidInput(refusal)
    with transaction.atomic():
        entry = GoldPrice.objects.create(usd_per_oz=price, source=source, as_of=as_of, entered_by=actor,
                                         origin=GoldPriceOrigin.MANUAL, state=GoldPriceState.PROPOSED)
        journal_record(action="issuance.price.proposed", actor=actor, obj=entry, state_after=entry.state,
                       data={"usd_per_oz": str(price), "source": source, "as_of": as_of.isoformat()})
    logger.info("gold-price id=%s state=proposed usd_per_oz=%s", entry.pk, price)
    return entry


def _decider_check(price_id: int, actor: User) -> GoldPrice:
    entry = GoldPrice.objects.get(pk=price_id)
    if entry.entered_by_id == actor.pk:
        raise TransitionRefused("the proposer of a price cannot decide on it: another manager must")
    return entry


def gold_price_approve(*, price_id: int, actor: User) -> GoldPrice:
    """Manager (not the proposer): the proposed price becomes the price in use. Refuses
    (TransitionRefused or InvalidInput, nothing changed) anyone else, a price not proposed, and a
    price that is out of bounds now (stale by now, or the accepted price moved meanwhile)."""
    _decider_check(price_id, actor)
    with transaction.atomic():
        _price_writers_serialise()
        entry = GoldPrice.objects.get(pk=price_id)
        refusal = (gold_price_bounds_refusal(price=entry.usd_per_oz, as_of=entry.as_of, exclude_id=entry.pk)
                   or _older_than_in_use_refusal(entry.as_of, exclude_id=entry.pk))
        if refusal and entry.state == GoldPriceState.PROPOSED:
            raise InvalidInput(f"{refusal}; reject it and propose a price within bounds")
        entry = transition_apply(model=GoldPrice, pk=price_id, transition="approve", actor=actor,
                                 params={"by": actor, "at": timezone.now()},
                                 data={"usd_per_oz": str(entry.usd_per_oz), "proposed_by": entry.entered_by_id})
        reserve_publish_soon()
    logger.info("gold-price id=%s state=accepted usd_per_oz=%s", entry.pk, entry.usd_per_oz)
    return entry


def gold_price_reject(*, price_id: int, reason: str, actor: User) -> GoldPrice:
    """Manager (not the proposer): the proposed price never counts. Refuses without a reason."""
    reason = _reason_require(reason)
    _decider_check(price_id, actor)
    return transition_apply(model=GoldPrice, pk=price_id, transition="reject", actor=actor, reason=reason,
                            params={"by": actor, "at": timezone.now(), "reason": reason})


def gold_price_feed_address() -> str:
    """The XAU/USD feed: GOLD_PRICE_FEED_ADDRESS when set (production: the real aggregator), else the
    development aggregator deploy_chain recorded on this chain's deployment."""
    address = settings.GOLD_PRICE_FEED_ADDRESS or deployment_get().gold_price_feed
    if not address:
        raise ChainError("no gold price feed: set GOLD_PRICE_FEED_ADDRESS or run deploy_chain")
    return to_checksum_address(address)


def gold_price_feed_read(*, client: ChainClient) -> GoldPrice:
    """Read the feed once and record the reading: ACCEPTED when within bounds, otherwise REFUSED with
    its reason (kept and journalled; it never changes the price in use). A round already recorded is
    returned as it is. Prices are cut (never rounded up) to 4 decimals."""
    address = gold_price_feed_address()
    raw, updated_at, round_id = client.gold_feed_read(address)
    source = f"{FEED_SOURCE_PREFIX} {address}"
    known = GoldPrice.objects.filter(source=source, round_id=round_id).first()
    if known is not None:
        return known
    price = raw.quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    if updated_at > timezone.now():  # a node clock ahead of ours: the reading is as of now at the latest
        updated_at = timezone.now()
    with transaction.atomic():
        _price_writers_serialise()
        if price <= 0 or price >= PRICE_CEILING:
            refusal = f"the feed answered {raw} USD/oz, not a plausible gold price"
            price = max(min(price, PRICE_CEILING - 1), Decimal("0.0001"))  # the row keeps a storable value
        else:
            refusal = gold_price_bounds_refusal(price=price, as_of=updated_at)
        state = GoldPriceState.REFUSED if refusal else GoldPriceState.ACCEPTED
        entry, created = GoldPrice.objects.get_or_create(
            source=source, round_id=round_id,
            defaults={"usd_per_oz": price, "as_of": updated_at, "origin": GoldPriceOrigin.FEED, "state": state,
                      "reason": refusal})
        if created:
            journal_record(action="issuance.price.feed_" + ("refused" if refusal else "accepted"),
                           actor_username="system", obj=entry, state_after=entry.state, reason=refusal,
                           data={"usd_per_oz": str(raw), "as_of": updated_at.isoformat(), "round_id": round_id,
                                 "feed": address})
            if not refusal:
                reserve_publish_soon()
    logger.info("gold-price id=%s state=%s usd_per_oz=%s round=%s", entry.pk, entry.state, raw, round_id)
    return entry


# --- reserve history ------------------------------------------------------------------------

def reserve_snapshot_take(*, client: ChainClient) -> ReserveSnapshot:
    """Record the reserve now (audited gold, its value, on-chain supply) for the history chart."""
    reserve = reserve_get(client=client)
    snapshot = ReserveSnapshot.objects.create(
        taken_at=timezone.now(), audited_oz=reserve.audited_oz, pending_oz=reserve.pending_oz,
        usd_per_oz=reserve.price.usd_per_oz if reserve.price else None,
        value_usd=reserve.value_usd.quantize(Decimal("0.000001"), rounding=ROUND_DOWN),  # cut, never rounded up
        total_supply=reserve.total_supply, block_number=reserve.block_number,
    )
    reserve_publish_soon()  # the history is a published figure
    return snapshot
