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
