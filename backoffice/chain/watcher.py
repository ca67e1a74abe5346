"""The chain watcher: indexes the logs of the deployment's token and multisigs, past the
confirmation depth, in batches, and rewinds what it indexed when the chain reorganises.

Every chain read happens before the database transaction that writes its result, and that write is
conditioned on the cursor still being what was read (compare-and-set): two runs that overlap (the
beat task holds a lease, but a `manage.py chain_index` may run beside it) never both apply a batch,
and the unique (chain, tx hash, log index) constraint keeps each log once whatever happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from eth_utils import to_checksum_address

from backoffice.journal.services import journal_record

from .client import ChainClient, ChainError, ChainUnavailable
from .events import log_decode
from .models import ChainEvent, ContractRole, Deployment, IndexCursor, IndexedBlock
from .selectors import deployment_get

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexProgress:
    """What one step did: blocks `from_block`..`to_block` indexed (to < from: nothing to do), the
    chain head it saw, the events it stored, and the rewind it made first (if any)."""

    from_block: int
    to_block: int
    head: int
    events: int = 0
    rewound_from: int | None = None
    rewound_to: int | None = None

    @property
    def indexed(self) -> int:
        return max(0, self.to_block - self.from_block + 1)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def watched_contracts(deployment: Deployment) -> dict[str, str]:
    """Checksummed address -> role. An address that holds both multisig roles is watched once (as
    issuance): each log is one row."""
    roles: dict[str, str] = {}
    rows = [(deployment.token, str(ContractRole.TOKEN))]
    rows += [(m.address, str(m.role)) for m in deployment.multisigs.order_by("-role")]  # issuance first
    for address, role in rows:
        roles.setdefault(to_checksum_address(address), role)
    return roles


def issue_recipient(client: ChainClient, tx_hash: str, *, token: str) -> str:
    """The `to` of the `issue(to, amount)` call a transaction executed: the token called directly, or
    through a multisig's `execTransaction` (either kind: the inner call is its third argument, `data`).
    "" when the transaction is not one of those (it cannot be told)."""
    found = client.transaction_get(tx_hash)
    if found is None:
        return ""
    to, data = found["to"], found["input"]
    if to != token:
        function, arguments = client.call_decode("USDKGMultisig", data)
        if function != "execTransaction":
            function, arguments = client.call_decode("SafeL2", data)
        if function != "execTransaction" or to_checksum_address(str(arguments.get("to", ""))) != token:
            return ""
        data = bytes(arguments["data"])
    function, arguments = client.token_call_decode(data)
    return to_checksum_address(str(arguments["to"])) if function == "issue" else ""


def _canonical_hash(client: ChainClient, number: int) -> str:
    """The chain's hash of block `number`; "" when the node has no such block (a reorg to a shorter
    chain), which matches no stored hash. A node that does not answer is not taken for a reorg."""
    try:
        return client.block_hash(number)
    except ChainUnavailable:
        raise
    except ChainError:
        return ""


def _cursor(deployment: Deployment) -> IndexCursor:
    cursor, _ = IndexCursor.objects.get_or_create(
        chain_id=deployment.chain_id,
        defaults={"block_number": deployment.block_number - 1, "block_hash": "", "updated_at": timezone.now()},
    )
    return cursor


def _fork_point(*, client: ChainClient, deployment: Deployment, cursor: IndexCursor) -> tuple[int, str]:
    """(block, hash) of the highest indexed block still on the chain, read without any lock. When no
    stored hash matches (a reorg deeper than the window), everything from the deployment block on is
    indexed again, provided the deployment itself is still there."""
    stored = IndexedBlock.objects.filter(chain_id=cursor.chain_id, number__lt=cursor.block_number)
    for number, stored_hash in stored.order_by("-number").values_list("number", "hash"):
        if _canonical_hash(client, number) == stored_hash:
            return number, stored_hash
    if _canonical_hash(client, deployment.block_number) != deployment.block_hash:
        raise ChainError(f"the deployment block {deployment.block_number} is no longer on chain "
                         f"{deployment.chain_id}: the node was reset or reorganised below it")
    return deployment.block_number - 1, ""


def _rewind(*, client: ChainClient, deployment: Deployment, cursor: IndexCursor) -> IndexCursor | None:
    """Undo the indexed blocks above the fork point when the cursor's block is no longer canonical.
    Returns the rewound cursor, or None when the cursor was moved by another run meanwhile."""
    fork, fork_hash = _fork_point(client=client, deployment=deployment, cursor=cursor)
    with transaction.atomic():
        moved = IndexCursor.objects.filter(
            pk=cursor.pk, block_number=cursor.block_number, block_hash=cursor.block_hash
        ).update(block_number=fork, block_hash=fork_hash, updated_at=timezone.now())
        if not moved:
            return None
        deleted, _ = ChainEvent.objects.filter(chain_id=cursor.chain_id, block_number__gt=fork).delete()
        IndexedBlock.objects.filter(chain_id=cursor.chain_id, number__gt=fork).delete()
        rewound = IndexCursor.objects.get(pk=cursor.pk)
        journal_record(
            action="chain.reorg", obj=rewound, actor_username="chain_index",
            reason=f"block {cursor.block_number} is no longer canonical: indexed again from block {fork + 1}",
            data={"chain_id": cursor.chain_id, "from_block": cursor.block_number, "from_hash": cursor.block_hash,
                  "to_block": fork, "to_hash": fork_hash, "events_deleted": deleted},
        )
    logger.warning("chain-reorg chain-id=%s from-block=%s to-block=%s events-deleted=%s",
                   cursor.chain_id, cursor.block_number, fork, deleted)
    return rewound


def chain_index_step(*, client: ChainClient, max_blocks: int) -> IndexProgress:
    """One indexing step (below), then the consumers of indexed events (CHAIN_INDEX_CONSUMERS, e.g.
    the multisig kernel counting approvals), after the step's own transaction committed."""
    progress = _index_step(client=client, max_blocks=max_blocks)
    for path in settings.CHAIN_INDEX_CONSUMERS:
        import_string(path)(client=client)
    return progress


def _index_step(*, client: ChainClient, max_blocks: int) -> IndexProgress:
    """Index the next batch of at most `max_blocks` blocks of the deployment's contracts.

    Guarantees: only blocks with CHAIN_CONFIRMATIONS confirmations (the block itself included) are
    indexed; each log is stored once; if the last indexed block is no longer canonical, the events
    above the fork point are deleted and the cursor rewound (journalled as `chain.reorg`) before
    indexing goes on. A batch is written in one transaction (events, block hashes and cursor
    together) and only if the cursor is still where this step read it. Refuses (ChainError) when
    nothing is deployed or the deployment block itself is gone.
    """
    if max_blocks < 1:
        raise ValueError("max_blocks must be at least 1")
    deployment = deployment_get()
    cursor = _cursor(deployment)
    head = client.block_number()
    rewound_from = rewound_to = None
    if cursor.block_hash and _canonical_hash(client, cursor.block_number) != cursor.block_hash:
        rewound = _rewind(client=client, deployment=deployment, cursor=cursor)
        if rewound is None:
            return IndexProgress(from_block=cursor.block_number + 1, to_block=cursor.block_number, head=head)
        rewound_from, rewound_to, cursor = cursor.block_number, rewound.block_number, rewound

    start = cursor.block_number + 1
    end = min(start + max_blocks - 1, head - (settings.CHAIN_CONFIRMATIONS - 1))
    if end < start:
        IndexCursor.objects.filter(pk=cursor.pk).update(head=head)
        return IndexProgress(from_block=start, to_block=end, head=head, rewound_from=rewound_from,
                             rewound_to=rewound_to)

    contracts = watched_contracts(deployment)
    end_hash = client.block_hash(end)
    logs = client.logs_get(addresses=list(contracts), from_block=start, to_block=end)
    if client.block_hash(end) != end_hash:
        # The chain changed under the read: these logs may mix two forks. Try again next run.
        logger.info("chain-index chain-id=%s batch=%s-%s retried reason=head-changed", cursor.chain_id, start, end)
        return IndexProgress(from_block=start, to_block=start - 1, head=head)

    now = timezone.now()
    events: list[ChainEvent] = []
    hashes: dict[int, str] = {end: end_hash}
    for log in logs:
        number, block_hash = int(log["blockNumber"]), _hex(log["blockHash"])
        hashes[number] = block_hash
        address = to_checksum_address(log["address"])
        role = contracts.get(address)
        if role is None or log.get("removed"):
            continue  # the node filtered by address already; a removed log belongs to a dropped fork
        decoded = log_decode(role=role, log=log)
        if decoded is None:
            continue
        args = decoded.args
        if role == ContractRole.TOKEN and decoded.name == "Issue":
            # `Issue(amount)` names no recipient: it is in the call that was executed (read before any write).
            args = {**args, "to": issue_recipient(client, _hex(log["transactionHash"]), token=address)}
        events.append(ChainEvent(
            chain_id=deployment.chain_id, block_number=number, block_hash=block_hash,
            tx_hash=_hex(log["transactionHash"]), log_index=int(log["logIndex"]), address=address, role=role,
            name=decoded.name, args=args, created_at=now,
        ))
    with transaction.atomic():
        moved = IndexCursor.objects.filter(
            pk=cursor.pk, block_number=cursor.block_number, block_hash=cursor.block_hash
        ).update(block_number=end, block_hash=end_hash, head=head, updated_at=now)
        if not moved:
            logger.info("chain-index chain-id=%s batch=%s-%s skipped reason=cursor-moved", cursor.chain_id, start, end)
            return IndexProgress(from_block=start, to_block=start - 1, head=head)
        ChainEvent.objects.bulk_create(events, ignore_conflicts=True)
        IndexedBlock.objects.bulk_create(
            [IndexedBlock(chain_id=deployment.chain_id, number=n, hash=h) for n, h in sorted(hashes.items())],
            update_conflicts=True, unique_fields=["chain_id", "number"], update_fields=["hash"],
        )
        IndexedBlock.objects.filter(chain_id=deployment.chain_id, number__lt=end - settings.CHAIN_REORG_WINDOW).delete()
    logger.info("chain-index chain-id=%s blocks=%s-%s head=%s events=%s", deployment.chain_id, start, end, head,
                len(events))
    return IndexProgress(from_block=start, to_block=end, head=head, events=len(events), rewound_from=rewound_from,
                         rewound_to=rewound_to)
