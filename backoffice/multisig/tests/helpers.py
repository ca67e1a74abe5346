"""Shared by the multisig tests that wait on the real Celery worker."""

from __future__ import annotations

import time

from backoffice.multisig.models import MultisigTransaction


def tx_wait(tx_id: int, states: set[str], timeout: float = 60) -> MultisigTransaction:
    """Poll the row until it reaches one of `states` (or the timeout; the caller asserts the state)."""
    deadline = time.monotonic() + timeout
    while True:
        tx = MultisigTransaction.objects.get(pk=tx_id)
        if tx.state in states or time.monotonic() > deadline:
            return tx
        time.sleep(0.1)
