from __future__ import annotations

from django.db import models


class Lease(models.Model):
    """A named, expiring claim that one process holds at a time (see backoffice.core.leases).

    The row is the lock: its primary key lets one process create it, and `holder` (a random token
    known only to the process that won) guards every later change.
    """

    name = models.CharField(max_length=200, primary_key=True)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"lease {self.name} until {self.expires_at}"
