"""Where a request came from, carried to the journal without threading it through every call."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    ip: str | None = None
    agent: str = ""

    @classmethod
    def from_request(cls, request: object) -> Origin:
        meta = getattr(request, "META", {})
        # REMOTE_ADDR, not X-Forwarded-For: a client can write any forwarded header it likes.
        # NUL removed (the edge middleware already does): PostgreSQL would refuse the whole journal entry.
        agent = str(meta.get("HTTP_USER_AGENT", "")).replace("\x00", "")[:300]
        return cls(ip=meta.get("REMOTE_ADDR") or None, agent=agent)


current_origin: ContextVar[Origin | None] = ContextVar("current_origin", default=None)
