from __future__ import annotations

from django.db import models


class Deployment(models.Model):
    """Where the token and both multisigs live on one chain: one row per chain id, for ever."""

    chain_id = models.PositiveBigIntegerField(unique=True)
    token = models.CharField(max_length=42)
    # Only when this product deployed Safe multisigs itself (blank when it attached to existing ones).
    safe_singleton = models.CharField(max_length=42, blank=True)
    safe_proxy_factory = models.CharField(max_length=42, blank=True)
    safe_fallback_handler = models.CharField(max_length=42, blank=True)
    # First block of our contracts (indexers start here) and its hash (to notice a reset or reorg).
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    deployed_at = models.DateTimeField()
    # The XAU/USD price feed (AggregatorV3Interface) this chain's reserve is valued with: the development
    # aggregator deploy_chain put there, or blank when settings.GOLD_PRICE_FEED_ADDRESS names the real one.
    gold_price_feed = models.CharField(max_length=42, blank=True)

    def __str__(self) -> str:
        return f"chain {self.chain_id}: token {self.token}"

    def multisig(self, role: str) -> Multisig:
        """The multisig row of `role`; a clear error when the deployment has none (half recorded)."""
        found = next((m for m in self.multisigs.all() if m.role == role), None)
        if found is None:
            raise Multisig.DoesNotExist(f"chain {self.chain_id} has no {role} multisig recorded")
        return found

    @property
    def issuance_multisig(self) -> str:
        return self.multisig(MultisigRole.ISSUANCE).address

    @property
    def compliance_multisig(self) -> str:
        return self.multisig(MultisigRole.COMPLIANCE).address


class MultisigRole(models.TextChoices):
    ISSUANCE = "issuance", "Issuance multisig (owners)"
    COMPLIANCE = "compliance", "Compliance multisig (officers)"


class MultisigKind(models.TextChoices):
    SAFE = "safe", "Safe v1.4.1 (off-chain signatures, a relayer executes)"
    USDKG = "usdkg", "USDKG multisig (owners approve on chain, an owner executes)"


class ExecutionPolicy(models.TextChoices):
    # Safe: anyone may send execTransaction with the owners' signatures, so the relayer does.
    RELAYER = "relayer", "The back-office relayer sends the owners' signatures"
    # USDKG: only an owner may execute. With an executor key configured the worker does it;
    # without one the owner whose approval completes the threshold is asked to send it.
    OWNER = "owner", "An owner executes (the configured executor, or the last approver)"


class Multisig(models.Model):
    """One multisig of a deployment: where it is, which kind, which role, and its owners and
    threshold as read from chain when it was recorded (neither kind can change them here: the USDKG
    multisig has no owner management, and the product never proposes a Safe owner change)."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="multisigs")
    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)  # checksummed
    kind = models.CharField(max_length=10, choices=MultisigKind.choices)
    role = models.CharField(max_length=20, choices=MultisigRole.choices)
    owners = models.JSONField(default=list)  # checksummed, in the contract's order
    threshold = models.PositiveSmallIntegerField()
    execution = models.CharField(max_length=10, choices=ExecutionPolicy.choices)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["chain_id", "role"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "role"], name="multisig_one_per_role"),
            models.UniqueConstraint(fields=["chain_id", "address"], name="multisig_unique_address"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.address} ({self.kind}, {self.threshold} of {len(self.owners)})"


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
    # Set once a consumer (the multisig kernel: approvals and executions) has taken the event into
    # account, so each run looks only at what is new. A reorg deletes the event and what came of it.
    applied = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chain_id", "tx_hash", "log_index"], name="chain_event_unique_log"),
        ]
        indexes = [
            models.Index(fields=["chain_id", "block_number", "log_index"], name="chain_event_block"),
            # Transfers have no consumer (approvals and executions do, and the token's privileged events
            # are reconciled): the many transfers stay out of the index of what is left to apply.
            models.Index(fields=["chain_id", "id"], condition=models.Q(applied=False) & ~models.Q(name="Transfer"),
                         name="chain_event_unapplied"),
        ]
        ordering = ["-block_number", "-log_index"]

    def __str__(self) -> str:
        return f"{self.name} at block {self.block_number} ({self.tx_hash}:{self.log_index})"


class NonceClaim(models.Model):
    """One account nonce taken by a transaction this product signed and stored: a multisig execution or
    a journal anchor. The relayer (and an executor key) sends both kinds, from different workers; the
    unique constraint makes two of them that picked the same nonce at the same moment collide in the
    database, before either is sent, instead of on chain (where one would silently replace the other).
    Written in the same database transaction as the row that stores the signed bytes."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    nonce = models.PositiveBigIntegerField()
    purpose = models.CharField(max_length=100)  # e.g. "multisig.multisigtransaction 12", "journal.journalanchor 3"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "address", "nonce"], name="nonce_claim_unique")]

    def __str__(self) -> str:
        return f"{self.address} nonce {self.nonce} on chain {self.chain_id}: {self.purpose}"
