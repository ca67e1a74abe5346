"""Writes to the journal, and the one helper every state-machine transition goes through."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address
from django_fsm import FSMFieldMixin, can_proceed, has_transition_perm

from .context import Origin, current_origin
from .models import JournalEntry, JournalHead, JournalReference

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
M = TypeVar("M", bound=models.Model)
# The project uses Django's own User model (AUTH_USER_MODEL is not swapped).
Actor = User | AnonymousUser | None


class TransitionRefused(Exception):
    """A transition that the state, the role or a condition does not allow; nothing was changed."""


# The exact fields the hash covers (`created_at` as ISO 8601 text), in the order journal_values_hash takes them.
HASHED_FIELDS = ("seq", "created_at", "actor_id", "actor_username", "action", "object_type", "object_id",
                 "state_before", "state_after", "reason", "origin_ip", "origin_agent", "data", "prev_hash")


def journal_entry_content(entry: JournalEntry) -> dict[str, Any]:
    """The exact fields the hash covers, in canonical form."""
    return journal_values_content([getattr(entry, name) for name in HASHED_FIELDS])


def journal_values_content(values: Sequence[Any]) -> dict[str, Any]:
    """The content the hash covers from an entry's HASHED_FIELDS values as the database returns them
    (what journal_verify reads, without building a model object per entry)."""
    content = dict(zip(HASHED_FIELDS, values, strict=True))
    content["created_at"] = content["created_at"].isoformat()
    return content


# The canonical form: keys sorted, no spaces, text as is. Built once: json.dumps with these options would
# build the same encoder again for every entry (a sixth of the cost of hashing one).
CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def journal_content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(CANONICAL_JSON.encode(content).encode()).hexdigest()


def journal_entry_hash(entry: JournalEntry) -> str:
    return journal_content_hash(journal_entry_content(entry))


REFERENCE_MAX = 100  # JournalReference.value: addresses (42), hashes (66), ids; prose is not a reference
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")


def journal_references_of(*, data: Any, object_id: str = "") -> set[str]:
    """What an entry concerns, for lookup: each short string or integer among the data's values
    (recursively), each address inside a longer string, and the object id; lower-cased (an address
    is found whether it was written checksummed or not)."""
    found: set[str] = {object_id.lower()} if object_id else set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value:
            if len(value) <= REFERENCE_MAX:
                found.add(value.lower())
            found.update(match.lower() for match in _ADDRESS.findall(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            if len(text) <= REFERENCE_MAX:
                found.add(text)

    walk(data)
    return found


def _ip_stored(ip: str | None) -> str | None:
    """The address as the database will return it (the column normalises IPv6: 2001:DB8:0::1 is stored
    2001:db8::1), so the hash covers what verification will read back."""
    if ip and ":" in ip:
        try:
            return clean_ipv6_address(ip)
        except ValidationError:
            return ip  # the column refuses it as it would have
    return ip


def _head_locked() -> tuple[int, str]:
    """The head's last seq and hash, its row locked until the caller's transaction ends (the row is
    created on the first entry ever). Plain SQL: every state change of the product comes through here."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_seq, last_hash FROM journal_journalhead WHERE id = 1{lock}")  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        head, _ = JournalHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
        return head.last_seq, head.last_hash
    return row[0], row[1]


# The entry, its references and the head's move in one statement (one round trip instead of three: every
# state change of the product pays for it). The head is already locked by this transaction.
_ENTRY_WRITE_SQL = """
WITH entry AS (
    INSERT INTO journal_journalentry (seq, created_at, actor_id, actor_username, action, object_type, object_id,
                                      state_before, state_after, reason, origin_ip, origin_agent, data,
                                      prev_hash, entry_hash)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s::jsonb, %s, %s)
    RETURNING id
), refs AS (
    INSERT INTO journal_journalreference (entry_id, value)
    SELECT entry.id, value FROM entry, unnest(%s::text[]) AS value
), head AS (
    UPDATE journal_journalhead SET last_seq = %s, last_hash = %s WHERE id = 1
)
SELECT id FROM entry
"""


def _entry_write_at_once(entry: JournalEntry, references: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_ENTRY_WRITE_SQL, [
            entry.seq, entry.created_at, entry.actor_id, entry.actor_username, entry.action, entry.object_type,
            entry.object_id, entry.state_before, entry.state_after, entry.reason, entry.origin_ip,
            entry.origin_agent, json.dumps(entry.data), entry.prev_hash, entry.entry_hash,
            references, entry.seq, entry.entry_hash,
        ])
        entry.pk = cursor.fetchone()[0]
    entry._state.adding, entry._state.db = False, connection.alias


def journal_record(
    *,
    action: str,
    actor: Actor = None,
    obj: models.Model | None = None,
    state_before: str = "",
    state_after: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
    origin: Origin | None = None,
    actor_username: str = "",
) -> JournalEntry:
    """Append one entry, in the caller's database transaction (or its own when there is none).

    Guarantees: entries are numbered without gaps and each one's hash covers the previous one's.
    The head row is locked until the caller commits, so concurrent writers queue instead of forking.
    """
    origin = origin or current_origin.get() or Origin()
    user = actor if actor is not None and actor.is_authenticated else None
    # No savepoint inside the caller's transaction: an entry that cannot be written must undo the
    # caller's change with it, never be caught and skipped, and the savepoint cost two round trips
    # on every state change.
    with transaction.atomic(savepoint=False):
        last_seq, last_hash = _head_locked()
        entry = JournalEntry(
            seq=last_seq + 1,
            created_at=timezone.now(),
            actor=user,
            actor_username=actor_username or (user.get_username() if user else ""),
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            state_before=state_before,
            state_after=state_after,
            reason=reason,
            origin_ip=_ip_stored(origin.ip),
            origin_agent=origin.agent,
            data=data or {},
            prev_hash=last_hash,
        )
        # Normalise `data` through JSON now, so the hash covers exactly what the database returns.
        entry.data = json.loads(json.dumps(entry.data))
        entry.entry_hash = journal_entry_hash(entry)
        references = sorted(journal_references_of(data=entry.data, object_id=entry.object_id))
        if connection.vendor == "postgresql":
            _entry_write_at_once(entry, references)
        else:  # the SQLite demo: the same rows through the ORM
            entry.save(force_insert=True)
            JournalReference.objects.bulk_create([JournalReference(entry=entry, value=value) for value in references])
            JournalHead.objects.filter(id=1).update(last_seq=entry.seq, last_hash=entry.entry_hash)
    logger.debug("journal seq=%s action=%s object=%s:%s", entry.seq, action, entry.object_type, entry.object_id)
    return entry


def _refusal_reason(method: Any, transition: str, state: str) -> str:
    """Say which rule refused: the state, or a condition (named by its docstring's first line)."""
    meta = method._django_fsm
    if not meta.has_transition(state):
        return f"{transition.replace('_', ' ')} is not allowed from state '{state}'"
    failed = [c for c in meta.get_transition(state).conditions if not c(method.__self__)]
    named = [((c.__doc__ or c.__name__).strip().splitlines()[0]) for c in failed]
    return f"{transition.replace('_', ' ')} needs: {'; '.join(named)}"


def _state_field_name(model: type[models.Model]) -> str:
    for field in model._meta.concrete_fields:
        if isinstance(field, FSMFieldMixin):
            return field.name
    raise TypeError(f"{model.__name__} has no FSM field")


def _stored_values(instance: models.Model) -> dict[str, Any]:
    """What each column would hold in the database, copied.

    Live attribute values are not enough: a FieldFile (or a dict in a JSONField) is changed in place
    by a transition, so a snapshot of the object itself would always equal it and the change would
    never be saved.
    """
    return {f.attname: copy.deepcopy(f.get_prep_value(getattr(instance, f.attname)))
            for f in instance._meta.concrete_fields}


def transition_apply(
    *,
    model: type[M],
    pk: Any,
    transition: str,
    actor: Actor,
    reason: str = "",
    data: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    check_permission: bool = True,
) -> M:
    """Lock the row, run the FSM transition, journal it and save, all in one database transaction.

    `params` are the transition method's own arguments; `reason` and `data` go to the journal.
    Refuses (TransitionRefused, nothing changed) when the current state, a condition or the actor's
    permission does not allow the transition. `check_permission=False` is for system actors
    (Celery workers), which act on behalf of an already-authorised decision.
    """
    with transaction.atomic():
        instance = model._default_manager.select_for_update().get(pk=pk)
        method = getattr(instance, transition)
        state_field = _state_field_name(model)
        before = getattr(instance, state_field)
        if not can_proceed(method):
            raise TransitionRefused(_refusal_reason(method, transition, before))
        if check_permission and (actor is None or not has_transition_perm(method, actor)):
            raise TransitionRefused(f"you may not {transition.replace('_', ' ')} this {model._meta.verbose_name}")
        before_values = _stored_values(instance)
        method(**(params or {}))
        after_values = _stored_values(instance)
        changed = [f.name for f in instance._meta.concrete_fields
                   if after_values[f.attname] != before_values[f.attname]]
        instance.save(update_fields=sorted(set(changed) | {state_field}))
        journal_record(
            action=f"{model._meta.label_lower}.{transition}",
            actor=actor,
            actor_username="" if actor is not None else "system",
            obj=instance,
            state_before=str(before),
            state_after=str(getattr(instance, state_field)),
            reason=reason,
            data=data,
        )
    return instance


def journal_export_record(*, actor: Actor, filters: dict[str, str], fmt: str = "csv", what: str = "journal",
                          obj: models.Model | None = None) -> JournalEntry:
    """Journal that someone exported `what` (the journal, a timeline, a list of proposals), with the
    filters used: before the first row is sent, so an export cut off half-way is on the record too."""
    return journal_record(action=f"{what}.export", actor=actor, obj=obj, reason=f"{what} exported as {fmt}",
                          data={"format": fmt, "filters": filters})
