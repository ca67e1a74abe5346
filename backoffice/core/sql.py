"""Hand-written SQL on the hottest paths, prepared once per database connection.

Django binds parameters on the client and never prepares (so that transaction-mode poolers keep working):
every execution of a statement is parsed and planned again. For a statement every state change runs (the
journal's append), planning cost twice what running it does. `sql_prepared_fetchone` prepares it on the
connection's own psycopg cursor the first time and reuses the plan after, when `DATABASE_PREPARE` is on
(the default; turn it off when PostgreSQL is reached through a transaction-mode pooler that does not keep
prepared statements, e.g. PgBouncer before 1.21 or without `max_prepared_statements`).

These statements bypass Django's cursor wrappers, so DEBUG's query log does not list them; their
errors still come out as Django's (IntegrityError, OperationalError, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

# Only the statements asked for explicitly are prepared: psycopg prepares any other query once it has run
# this many times, and Django's own queries never reach that count here (they go through client cursors).
_EXPLICIT_ONLY = 2**31 - 1


def sql_prepared_fetchone(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run one statement (placeholders `%s`, every parameter cast in the SQL) on the default database
    connection, inside whatever transaction it has open; its first row, or None. PostgreSQL only."""
    connection.ensure_connection()
    raw = connection.connection
    prepare = bool(settings.DATABASE_PREPARE)
    if prepare and raw.prepare_threshold is None:
        raw.prepare_threshold = _EXPLICIT_ONLY
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=prepare)
        return cursor.fetchone()
