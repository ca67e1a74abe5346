"""Reconciliation: does the chain agree with the back-office's own record, at an indexed block?

(a) `totalSupply()` equals issued - redeemed - destroyed from the indexed token events; (b) every
privileged token event maps to exactly one transaction executed here (anything else is an
unauthorised event); (d) each multisig's owners and threshold on chain equal the recorded ones;
plus the checks the apps register in settings.RECONCILIATION_CHECKS (issuance: supply within the
audited reserve; compliance: the frozen-address register equals `isBlackListed`). The kernel never
imports the apps.

A failing check or an unauthorised event raises an alert once (ReconciliationAlert.key): journalled,
notified to the managers (on their inbox, mailed after commit), shown on every admin page until a
manager acknowledges it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from backoffice.accounts.notices import alert_raised_notify
from backoffice.accounts.roles import Role
from backoffice.chain.client import ChainClient, ChainError
from backoffice.chain.models import ChainEvent, ContractRole, IndexCursor
from backoffice.chain.selectors import deployment_get
from backoffice.core.errors import InvalidInput
from backoffice.journal.services import TransitionRefused, journal_record

from .actions import call_decode
from .models import SENDING_STATES, MultisigTransaction, ReconciliationAlert, TxState

logger = logging.getLogger(__name__)

# The token's privileged events and the token function whose execution emits each.
PRIVILEGED_EVENTS = {
    "Issue": "issue", "Redeem": "redeem", "Pause": "pause", "Unpause": "unpause", "Params": "setParams",
    "AddedBlackList": "addBlackList", "RemovedBlackList": "removeBlackList", "DestroyedBlackFunds": "destroyBlackFunds",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    expected: Any
    actual: Any


@dataclass(frozen=True)
class Report:
    block: int
    checks: list[Check]
    unauthorised_events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.unauthorised_events

    def as_dict(self) -> dict[str, Any]:
        return {"block": self.block, "ok": self.ok, "checks": [asdict(c) for c in self.checks],
                "unauthorised_events": self.unauthorised_events}


def _event_json(event: ChainEvent) -> dict[str, Any]:
    return {"tx_hash": event.tx_hash, "log_index": event.log_index, "event": event.name, "args": event.args,
            "block": event.block_number}


def _executing(tx_hashes: Iterable[str]) -> dict[str, list[MultisigTransaction]]:
    """Our transactions sent as any of `tx_hashes` (the current hash or one it replaced)."""
    hashes = [h.lower() for h in tx_hashes]
    found: dict[str, list[MultisigTransaction]] = {}
    if not hashes:
        return found
    # A replaced relayer transaction's hash is in `previous_tx_hashes` (JSON; SQLite, the demo's, has no
    # JSON `contains`): the few rows that were ever replaced are checked here instead.
    query = Q(relayer_tx_hash__in=hashes) | ~Q(previous_tx_hashes=[])
    for tx in MultisigTransaction.objects.filter(query):
        for h in {tx.relayer_tx_hash, *tx.previous_tx_hashes}:
            if h in hashes:
                found.setdefault(h, []).append(tx)
    return found


def event_classify(event: ChainEvent, ours: list[MultisigTransaction]) -> str:
    """"authorised" (exactly one transaction executed here made it), "pending" (ours, still being
    settled by the follower: look again later) or "unauthorised"."""
    function = PRIVILEGED_EVENTS[event.name]
    executed = [tx for tx in ours if tx.state == TxState.EXECUTED and call_decode(tx).function == function]
    if len(executed) == 1:
        return "authorised"
    if not executed and any(tx.state in SENDING_STATES for tx in ours):
        return "pending"
    return "unauthorised"


def _privileged(chain_id: int, block: int) -> Any:
    return ChainEvent.objects.filter(chain_id=chain_id, role=ContractRole.TOKEN, name__in=list(PRIVILEGED_EVENTS),
                                     block_number__lte=block).order_by("block_number", "log_index")


def _supply_check(client: ChainClient, token: str, events: list[ChainEvent], block: int) -> Check:
    issued = sum(int(e.args.get("amount", 0)) for e in events if e.name == "Issue")
    redeemed = sum(int(e.args.get("amount", 0)) for e in events if e.name == "Redeem")
    destroyed = sum(int(e.args.get("_balance", 0)) for e in events if e.name == "DestroyedBlackFunds")
    expected, actual = issued - redeemed - destroyed, client.token_total_supply(token, block=block)
    return Check("total supply equals issued - redeemed - destroyed", expected == actual,
                 {"issued": str(issued), "redeemed": str(redeemed), "destroyed": str(destroyed),
                  "supply": str(expected)}, {"supply": str(actual)})


def _owners_checks(client: ChainClient, block: int) -> list[Check]:
    checks = []
    for multisig in deployment_get().multisigs.all():
        owners_on_chain = client.safe_owners(multisig.address)
        actual: dict[str, Any] = {"owners": owners_on_chain, "threshold": client.safe_threshold(multisig.address)}
        expected = {"owners": list(multisig.owners), "threshold": multisig.threshold}
        same = sorted(owners_on_chain) == sorted(multisig.owners) and actual["threshold"] == multisig.threshold
        checks.append(Check(f"{multisig.role} multisig owners and threshold", same, expected, actual))
    return checks


def reconciliation_compute(*, client: ChainClient) -> Report:
    """The reconciliation at the watcher's indexed block (the events it compares are indexed up to
    there). Reads only: nothing is stored. ChainError when nothing is deployed or indexed yet."""
    deployment = deployment_get()
    cursor = IndexCursor.objects.filter(chain_id=deployment.chain_id, block_number__gte=deployment.block_number
                                        ).first()
    if cursor is None:
        raise ChainError("the chain watcher has not indexed anything yet: nothing to reconcile")
    block = cursor.block_number
    events = list(_privileged(deployment.chain_id, block))
    ours = _executing(e.tx_hash for e in events)
    unauthorised = [_event_json(e) for e in events if event_classify(e, ours.get(e.tx_hash, [])) == "unauthorised"]
    checks = [_supply_check(client, deployment.token, events, block), *_owners_checks(client, block)]
    for path in settings.RECONCILIATION_CHECKS:
        hook: Callable[..., list[Check]] = import_string(path)
        checks.extend(hook(client=client, block=block))
    return Report(block=block, checks=checks, unauthorised_events=unauthorised)


# --- alerts ---------------------------------------------------------------------------------------
def _alert_raise(*, key: str, kind: str, title: str, detail: dict[str, Any], block: int) -> ReconciliationAlert | None:
    """One alert per finding: a second raise of the same key is nothing (the unique key decides)."""
    try:
        with transaction.atomic():
            alert = ReconciliationAlert.objects.create(key=key[:200], kind=kind, title=title[:200], detail=detail,
                                                       block_number=block)
            journal_record(action="reconciliation.alert", obj=alert, actor_username="reconciliation",
                           reason=title, data={"kind": kind, "block": block, **detail})
            alert_raised_notify(alert)  # to the managers, mailed after commit
    except IntegrityError:
        return None
    logger.warning("reconciliation-alert key=%s title=%s", key, title)
    return alert


def _check_alerts(report: Report) -> list[ReconciliationAlert]:
    raised = []
    for check in report.checks:
        if not check.ok:
            alert = _alert_raise(key=f"check:{check.name}:{check.actual}", kind="check",
                                 title=f"Reconciliation check failed: {check.name}",
                                 detail={"expected": check.expected, "actual": check.actual}, block=report.block)
            raised += [alert] if alert else []
    for event in report.unauthorised_events:
        raised += _unauthorised_alert(event)
    return raised


def _unauthorised_alert(event: dict[str, Any]) -> list[ReconciliationAlert]:
    alert = _alert_raise(key=f"event:{event['tx_hash']}:{event['log_index']}", kind="unauthorised_event",
                         title=f"Unauthorised {event['event']} on chain (no executed proposal here)",
                         detail=event, block=int(event["block"]))
    return [alert] if alert else []


def reconciliation_run(*, client: ChainClient) -> tuple[Report, list[ReconciliationAlert]]:
    """Compute the reconciliation and raise an alert for each new finding (periodic task, command)."""
    report = reconciliation_compute(client=client)
    return report, _check_alerts(report)


def reconciliation_events_apply(*, client: ChainClient) -> int:
    """Chain-index consumer: each newly indexed privileged token event is classified at once, so an
    unauthorised one raises its alert within one watcher run. An event still being settled by our
    follower is looked at again at the next run. Returns how many were settled here."""
    events = list(ChainEvent.objects.filter(chain_id=client.chain_id, applied=False, role=ContractRole.TOKEN,
                                            name__in=list(PRIVILEGED_EVENTS)).exclude(name="Transfer")
                  .order_by("block_number", "log_index"))
    ours = _executing(e.tx_hash for e in events)
    settled = 0
    for event in events:
        verdict = event_classify(event, ours.get(event.tx_hash, []))
        if verdict == "pending":
            continue
        with transaction.atomic():
            if not ChainEvent.objects.filter(pk=event.pk, applied=False).update(applied=True):
                continue
            if verdict == "unauthorised":
                _unauthorised_alert(_event_json(event))
        settled += 1
    return settled


def alerts_open() -> Any:
    return ReconciliationAlert.objects.filter(acknowledged_at__isnull=True)


def alert_acknowledge(*, alert_id: int, reason: str, actor: User) -> ReconciliationAlert:
    """A manager acknowledges an alert with a reason (journalled); the banner then stops showing it."""
    if not (actor.is_superuser or actor.groups.filter(name=Role.MANAGER).exists()):
        raise TransitionRefused("only a manager acknowledges reconciliation alerts")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason: say why this alert is understood", field="reason")
    with transaction.atomic():
        alert = ReconciliationAlert.objects.select_for_update().get(pk=alert_id)
        if alert.acknowledged_at is not None:
            raise TransitionRefused(f"already acknowledged by {alert.acknowledged_by} at {alert.acknowledged_at}")
        alert.acknowledged_by, alert.acknowledged_at, alert.acknowledged_reason = actor, timezone.now(), reason
        alert.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledged_reason"])
        journal_record(action="reconciliation.alert_acknowledged", actor=actor, obj=alert, reason=reason,
                       data={"title": alert.title})
    return alert
