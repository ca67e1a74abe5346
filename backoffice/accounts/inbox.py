"""Each user's inbox: what waits for them (a signature, an audit, a deposit to confirm) and where what
they started stands (their proposals, their cases), each item linking to where it is acted on.

The kernel gathers the sources named in settings.INBOX_SOURCES, each `(user) -> list[InboxItem]`: the
multisig's own (backoffice.multisig.inbox) and the apps', so nothing here imports an app. Each source
costs a fixed number of queries, whatever the number of items: the admin header counts them on
every page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.utils.module_loading import import_string

# What an item is: a signature or approval to give, an audit, a deposit to confirm, a proposal, a case.
INBOX_KINDS = ("signature", "audit", "deposit", "proposal", "case")


@dataclass(frozen=True)
class InboxItem:
    kind: str
    reference: str  # the public number people use (ISS-0003, CMP-0002, TX-0004, the deposit's reference)
    title: str
    status: str  # the state as people say it ("Awaiting 2 more approvals")
    url: str  # where it is acted on: the signing page, or the object's admin page
    at: datetime
    note: str = ""  # e.g. "head of the queue", "waits for nonce 5 (the head is 3)"
    # It waits for this user to act (counted in the header) rather than telling where something stands.
    action: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reference": self.reference, "title": self.title, "status": self.status,
                "url": self.url, "at": self.at.isoformat(), "note": self.note, "action": self.action}


@dataclass(frozen=True)
class Inbox:
    items: list[InboxItem]

    @property
    def counts(self) -> dict[str, int]:
        """Items per kind, and `action`: how many wait for the user to act."""
        per_kind = Counter(i.kind for i in self.items)
        return {**{k: per_kind.get(k, 0) for k in INBOX_KINDS}, "action": sum(1 for i in self.items if i.action)}


Source = Callable[[User], list[InboxItem]]


@cache
def _sources(paths: tuple[str, ...]) -> list[Source]:
    return [import_string(p) for p in paths]


def inbox_get(user: User | AnonymousUser) -> Inbox:
    """The user's inbox: things to act on first, then the rest."""
    if not user.is_authenticated:
        return Inbox(items=[])
    items: list[InboxItem] = []
    for source in _sources(tuple(settings.INBOX_SOURCES)):
        items.extend(source(user))
    # What waits for the user first, in each source's own order (a multisig's queue by nonce); then
    # where things stand, newest first.
    waiting = [i for i in items if i.action]
    standing = sorted((i for i in items if not i.action), key=lambda i: i.at, reverse=True)
    return Inbox(items=[*waiting, *standing])


def inbox_action_count(user: User | AnonymousUser) -> int:
    return inbox_get(user).counts["action"]
