"""Writes to the journal, and the one helper every state-machine transition goes through."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address
from django_fsm import FSMFieldMixin, can_proceed, has_transition_perm

from backoffice.core.sql import sql_prepared_fetchone

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


# `created_at` as the text datetime.isoformat() gives for the UTC datetimes the ORM returns (microseconds
# only when not zero, offset "+00:00"), written by the server.
_CREATED_AT_ISO = ("replace(to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), "
                   "'.000000+', '+')")
_KEY = re.compile(r"[a-z_]+")


def _value_as_json(name: str, column: str) -> str:
    """SQL for one hashed field as canonical JSON text: what CANONICAL_JSON makes of the value the ORM
    reads. PostgreSQL's to_json escapes a string exactly as Python's json does without ensure_ascii (the
    two-character escapes for \\b \\f \\n \\r \\t \\" \\\\, \\u00xx for the other control characters,
    everything else as is); the tests hold the two to it with every kind of character."""
    if name in ("seq", "actor_id"):
        return f"coalesce({column}::text, 'null')"
    # origin_ip as inet's own text (abbrev(): as the ORM reads it, without the "/32" a cast to text adds).
    text = {"created_at": _CREATED_AT_ISO.format(column), "origin_ip": f"abbrev({column})"}.get(name, column)
    return f"coalesce(to_json({text})::text, 'null')"


def canonical_sql_parts(column: Callable[[str], str]) -> tuple[str, str]:
    """PostgreSQL expressions for the canonical JSON of an entry around its `data`: (the text up to and
    including `"data":`, the text after it), for the fields HASHED_FIELDS names, each read from the SQL
    `column(name)` gives. `data`'s own canonical text (keys sorted as Python sorts them) only Python makes."""
    keys = sorted(HASHED_FIELDS)
    cut = keys.index("data")

    def pairs(names: list[str], opening: str, closing: str) -> str:
        pieces: list[str] = []
        for n, name in enumerate(names):
            if not _KEY.fullmatch(name):
                raise ValueError(f"{name!r} cannot be written as a JSON key without escaping")
            pieces += [f"'{opening if n == 0 else ','}\"{name}\":'", _value_as_json(name, column(name))]
        return " || ".join([*pieces, f"'{closing}'"])

    return pairs(keys[:cut], "{", ',"data":'), pairs(keys[cut + 1:], ",", "}")


# The whole append as one statement on PostgreSQL (one round trip where locking the head first, to hash in
# Python, took two: every state change of the product pays for it): lock the head, number and link the
# entry, hash its canonical JSON (data's canonical text comes from Python), insert it with its
# references, move the head. Under READ COMMITTED a writer that waited for the head's lock reads the
# head as the other writer committed it; the unique seq and prev_hash would refuse a fork regardless.
_ENTRY_COLUMNS = ("created_at", "actor_id", "actor_username", "action", "object_type", "object_id",
                  "state_before", "state_after", "reason", "origin_ip", "origin_agent", "data")
_ENTRY_TYPES = ("timestamptz", "integer", "text", "text", "text", "text", "text", "text", "text", "inet", "text",
                "jsonb")


def _entry_write_sql() -> str:
    before, after = canonical_sql_parts(lambda name: name)
    values = ", ".join(f"%s::{kind}" for kind in _ENTRY_TYPES)
    columns = ", ".join(_ENTRY_COLUMNS)
    return f"""
WITH head AS (
    SELECT last_seq + 1 AS seq, last_hash AS prev_hash FROM journal_journalhead WHERE id = 1 FOR UPDATE
), new AS (
    SELECT head.seq, head.prev_hash, v.*
    FROM head, (VALUES ({values}, %s::text)) AS v({columns}, data_canonical)
), hashed AS (
    SELECT new.*, encode(sha256(convert_to({before} || data_canonical || {after}, 'UTF8')), 'hex') AS entry_hash
    FROM new
), entry AS (
    INSERT INTO journal_journalentry (seq, prev_hash, entry_hash, {columns})
    SELECT seq, prev_hash, entry_hash, {columns} FROM hashed
    RETURNING id, seq, prev_hash, entry_hash
), refs AS (
    INSERT INTO journal_journalreference (entry_id, value)
    SELECT entry.id, value FROM entry, unnest(%s::text[]) AS value
), moved AS (
    UPDATE journal_journalhead SET last_seq = entry.seq, last_hash = entry.entry_hash FROM entry
    WHERE journal_journalhead.id = 1
)
SELECT id, seq, prev_hash, entry_hash FROM entry
"""  # noqa: S608 - the names above and HASHED_FIELDS, never input: every value is a parameter


_ENTRY_WRITE_SQL = _entry_write_sql()


def _entry_write_at_once(entry: JournalEntry, references: list[str]) -> None:
    """Number, link, hash and insert the entry in one statement (PostgreSQL); sets seq, prev_hash,
    entry_hash and pk on it."""
    params = [*(getattr(entry, name) for name in _ENTRY_COLUMNS[:-1]), json.dumps(entry.data),
              CANONICAL_JSON.encode(entry.data), references]
    row = sql_prepared_fetchone(_ENTRY_WRITE_SQL, params)
    if row is None:  # the first entry ever: no head yet
        JournalHead.objects.get_or_create(id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
        row = sql_prepared_fetchone(_ENTRY_WRITE_SQL, params)
    if row is None:
        raise RuntimeError("the journal's head row is missing and could not be created")
    entry.pk, entry.seq, entry.prev_hash, entry.entry_hash = row
    entry._state.adding, entry._state.db = False, connection.alias


def _head_locked() -> tuple[int, str]:
    """The head's last seq and hash, its row locked until the caller's transaction ends (created on the
    first entry ever); for the SQLite demo, which hashes in Python."""
    head, _ = JournalHead.objects.select_for_update().get_or_create(
        id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
    return head.last_seq, head.last_hash


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
        entry = JournalEntry(
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
            # Normalised through JSON now, so the hash covers exactly what the database returns.
            data=json.loads(json.dumps(data or {})),
        )
        references = sorted(journal_references_of(data=entry.data, object_id=entry.object_id))
        if connection.vendor == "postgresql":
            _entry_write_at_once(entry, references)
        else:  # the SQLite demo: the head locked, the hash in Python, the same rows through the ORM
            last_seq, last_hash = _head_locked()
            entry.seq, entry.prev_hash = last_seq + 1, last_hash
            entry.entry_hash = journal_entry_hash(entry)
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
