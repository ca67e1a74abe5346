"""One racer of the lease race (backoffice/core/tests/test_leases.py), run as its own process.

Usage: python -m backoffice.core.tests.lease_racer PREFIX TRIALS (settings and database from the
environment). It sets Django up, makes the odd-numbered leases exist already expired (so those
trials race to take over, the even ones race to create), prints "ready", reads a start time
(seconds since the epoch) from stdin, then at start + 0.2 s x trial tries to take lease
PREFIX-trial, and finally prints one JSON list: the token it got for each trial, or null.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

GAP_SECONDS = 0.2


def main(prefix: str, trials: int) -> None:
    import django

    django.setup()
    from django.utils import timezone

    from backoffice.core.leases import lease_acquire
    from backoffice.core.models import Lease

    expired = timezone.now() - timedelta(hours=1)
    Lease.objects.bulk_create([Lease(name=f"{prefix}-{i}", holder="expired", expires_at=expired)
                               for i in range(1, trials, 2)], ignore_conflicts=True)
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    tokens: list[str | None] = []
    for trial in range(trials):
        at = start + trial * GAP_SECONDS
        time.sleep(max(0.0, at - time.time() - 0.01))
        while time.time() < at:  # the last instant spun, not slept: the racers wake together
            pass
        tokens.append(lease_acquire(name=f"{prefix}-{trial}", seconds=60))
    print(json.dumps(tokens), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
