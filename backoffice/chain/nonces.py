"""The next nonce of a sending account, and claiming it (chain.NonceClaim) when a signed transaction is
stored, so that the multisig broadcaster and the journal's anchors never sign two transactions with one
nonce of the same account."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Max

from .client import ChainClient, ChainError
from .models import NonceClaim


class NonceTaken(ChainError):
    """Another stored transaction claimed this nonce first: sign again with the next one (a retry)."""


def nonce_next(client: ChainClient, address: str) -> int:
    """Past the account's pending transactions on the node and past every nonce claimed here (a claimed
    transaction may not have reached the node yet: it is sent only after its row commits)."""
    claimed: int | None = NonceClaim.objects.filter(chain_id=client.chain_id, address=address).aggregate(
        m=Max("nonce"))["m"]
    return max(client.account_nonce(address), claimed + 1 if claimed is not None else 0)


def nonce_claim(*, chain_id: int, address: str, nonce: int, purpose: str) -> NonceClaim:
    """Claim `nonce` of `address`, inside the caller's database transaction (which should roll back
    with it). Claiming again for the same purpose is a no-op (two workers storing the very same signed
    transaction); NonceTaken when another transaction stored first has it."""
    try:
        with transaction.atomic():
            return NonceClaim.objects.create(chain_id=chain_id, address=address, nonce=nonce, purpose=purpose)
    except IntegrityError as exc:
        taken = NonceClaim.objects.filter(chain_id=chain_id, address=address, nonce=nonce).first()
        if taken is not None and taken.purpose == purpose:
            return taken
        raise NonceTaken(f"nonce {nonce} of {address} was just taken by "
                         f"{taken.purpose if taken else 'another transaction'}; it will be signed again") from exc
