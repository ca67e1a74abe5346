from __future__ import annotations

from django.db import models


class Deployment(models.Model):
    """Where the token and both multisigs live on one chain: one row per chain id, for ever."""

    chain_id = models.PositiveBigIntegerField(unique=True)
    token = models.CharField(max_length=42)
    issuance_multisig = models.CharField(max_length=42)
    compliance_multisig = models.CharField(max_length=42)
    safe_singleton = models.CharField(max_length=42)
    safe_proxy_factory = models.CharField(max_length=42)
    safe_fallback_handler = models.CharField(max_length=42)
    # First block of our contracts (indexers start here) and its hash (to notice a reset or reorg).
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    deployed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"chain {self.chain_id}: token {self.token}"


class ContractRole(models.TextChoices):
    TOKEN = "token", "Token"
    ISSUANCE = "issuance", "Issuance multisig"
    COMPLIANCE = "compliance", "Compliance multisig"


class IndexCursor(models.Model):
    """How far the chain watcher has indexed a chain: the last block done and its hash (compared with
    the chain's at the next run to notice a reorg). An empty hash means nothing indexed yet."""

    chain_id = models.PositiveBigIntegerField(unique=True)
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66, blank=True)
    head = models.PositiveBigIntegerField(default=0)  # the chain head seen by the last run, for progress
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"chain {self.chain_id}: block {self.block_number}"


class IndexedBlock(models.Model):
    """Hashes of recently indexed blocks (the last of each batch and every block with a log of ours),
    enough to find where a reorganised chain forks from what was indexed. Older than
    CHAIN_REORG_WINDOW blocks below the cursor they are pruned."""

    chain_id = models.PositiveBigIntegerField()
    number = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=66)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "number"], name="chain_indexedblock_unique")]

    def __str__(self) -> str:
        return f"chain {self.chain_id}: block {self.number} {self.hash}"


class ChainEvent(models.Model):
    """One log of our contracts, decoded, past the confirmation depth. Stored once: the database
    refuses a second row for the same (chain, transaction, log index)."""

    chain_id = models.PositiveBigIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    address = models.CharField(max_length=42)  # checksummed
    role = models.CharField(max_length=16, choices=ContractRole.choices)
    name = models.CharField(max_length=64)
    # Integers as decimal strings, bytes as 0x hex, addresses checksummed.
    args = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "tx_hash", "log_index"], name="chain_event_unique_log"),
        ]
        indexes = [models.Index(fields=["chain_id", "block_number", "log_index"], name="chain_event_block")]
        ordering = ["-block_number", "-log_index"]

    def __str__(self) -> str:
        return f"{self.name} at block {self.block_number} ({self.tx_hash}:{self.log_index})"
