"""Signers, multisig transactions, confirmations and the broadcaster.

Chain reads happen before a row is locked; chain writes only after the row change committed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from backoffice.chain.addresses import address_require_checksummed
from backoffice.chain.client import ChainClient, ChainError, relayer_account
from backoffice.chain.safetx import InvalidSignature, SafeTx, signature_parse, signature_recover, signatures_pack
from backoffice.chain.selectors import deployment_get
from backoffice.journal.services import journal_record, transition_apply

from .models import Confirmation, Multisig, MultisigTransaction, Signer, TxState

logger = logging.getLogger(__name__)


class SignatureRefused(Exception):
    """A signature that is not acceptable; nothing was stored (the refusal is journalled)."""


def signer_bind(*, user: User, address: str, multisig: str, actor: User | None) -> Signer:
    """Bind `user` to a checksummed signing address for one multisig.

    Refuses a malformed or non-checksummed address, an address bound to someone else, and a user
    already bound to another address (the unique constraints enforce it under races too).
    """
    address = address_require_checksummed(address)
    if multisig not in Multisig.values:
        raise ValueError(f"multisig must be one of {', '.join(Multisig.values)}")
    with transaction.atomic():
        existing = Signer.objects.select_for_update().filter(user=user).first()
        if existing is not None:
            if (existing.address, existing.multisig) == (address, multisig):
                return existing
            raise ValueError(f"{user} is already bound to {existing.address} ({existing.multisig})")
        if Signer.objects.filter(address=address).exists():
            raise ValueError(f"{address} is already bound to another user")
        signer = Signer.objects.create(user=user, address=address, multisig=multisig)
        journal_record(action="signer.bound", actor=actor, obj=signer,
                       data={"user": user.get_username(), "address": address, "multisig": multisig})
    return signer


def _safe_address(multisig: str) -> str:
    deployment = deployment_get()
    return deployment.issuance_multisig if multisig == Multisig.ISSUANCE else deployment.compliance_multisig


def safe_tx_of(tx: MultisigTransaction) -> SafeTx:
    return SafeTx(to=tx.to, value=int(tx.value), data=bytes(tx.data), operation=tx.operation, nonce=tx.nonce)


def multisig_transaction_propose(
    *, client: ChainClient, multisig: str, to: str, data: bytes, decoded: dict[str, Any],
    actor: User | None, value: int = 0,
) -> MultisigTransaction:
    """Freeze a SafeTx at the next free nonce of `multisig`, with its hash and the on-chain threshold.

    The nonce is the larger of the chain's and one past the highest live one we already queued; a
    unique constraint on (multisig, nonce) for live transactions refuses a concurrent duplicate.
    """
    safe = _safe_address(multisig)
    chain_nonce, threshold = client.safe_nonce(safe), client.safe_threshold(safe)
    with transaction.atomic():
        live = MultisigTransaction.objects.filter(safe_address=safe).exclude(
            state__in=[TxState.CANCELLED, TxState.FAILED]
        )
        queued = live.aggregate(m=Max("nonce"))["m"]
        nonce = max(chain_nonce, (queued + 1) if queued is not None else 0)
        safe_tx = SafeTx(to=to, value=value, data=data, operation=0, nonce=nonce)
        tx = MultisigTransaction.objects.create(
            multisig=multisig, safe_address=safe, chain_id=client.chain_id, to=safe_tx.to, value=value,
            data=data, operation=0, nonce=nonce, threshold=threshold, decoded=decoded, created_by=actor,
            safe_tx_hash="0x" + safe_tx.safe_tx_hash(chain_id=client.chain_id, safe_address=safe).hex(),
        )
        journal_record(action="multisig.proposed", actor=actor, obj=tx, state_after=tx.state,
                       data={"safe_tx_hash": tx.safe_tx_hash, "nonce": nonce, "decoded": decoded})
    return tx


def _refuse(tx: MultisigTransaction, actor: User | None, message: str) -> SignatureRefused:
    journal_record(action="multisig.signature_refused", actor=actor, obj=tx, reason=message)
    return SignatureRefused(message)


def confirmation_add(
    *, client: ChainClient, transaction_id: int, signature: str | bytes, actor: User
) -> Confirmation:
    """Accept one owner's EIP-712 signature over the transaction's stored safeTxHash.

    Accepted only if it recovers to the actor's own bound address for this multisig, that address
    is an owner of the multisig ON CHAIN now, the transaction still awaits signatures, and this
    owner has not signed it yet. Reaching the threshold approves the transaction and, after
    commit, hands it to the broadcaster. Every refusal stores nothing but the journal entry.
    """
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    try:
        owner = signature_recover(digest=bytes.fromhex(tx.safe_tx_hash[2:]), signature=signature)
    except InvalidSignature as exc:
        raise _refuse(tx, actor, f"malformed signature: {exc}") from exc
    signer = Signer.objects.filter(user_id=actor.pk, multisig=tx.multisig).first()
    if signer is None:
        raise _refuse(tx, actor, f"you are not a signer of the {tx.multisig} multisig")
    if owner != signer.address:
        raise _refuse(tx, actor, f"the signature is by {owner}, not by your bound address {signer.address} "
                                 "(wrong account, or signed for another transaction or chain)")
    if owner not in client.safe_owners(tx.safe_address):
        raise _refuse(tx, actor, f"{owner} is not an owner of the multisig on chain")
    raw = signature_parse(signature)
    with transaction.atomic():
        locked = MultisigTransaction.objects.select_for_update().get(pk=tx.pk)
        if locked.state != TxState.AWAITING_SIGNATURES:
            raise _refuse(tx, actor, f"the transaction is {locked.state}, it takes no more signatures")
        if locked.confirmations.filter(signer=signer).exists():
            raise _refuse(tx, actor, "you have already signed this transaction")
        try:
            with transaction.atomic():
                confirmation = Confirmation.objects.create(
                    transaction=locked, signer=signer, owner_address=owner, signature=raw
                )
        except IntegrityError as exc:
            raise _refuse(tx, actor, "you have already signed this transaction") from exc
        journal_record(action="multisig.signature_accepted", actor=actor, obj=locked,
                       data={"owner": owner, "count": locked.confirmations_count(), "threshold": locked.threshold})
        if locked.has_threshold():
            transition_apply(model=MultisigTransaction, pk=locked.pk, transition="approve", actor=actor,
                             check_permission=False, reason="threshold of valid signatures reached")
            multisig_transaction_schedule(transaction_id=locked.pk)
    return confirmation


def multisig_transaction_schedule(*, transaction_id: int) -> None:
    """Hand the transaction to the broadcaster once the current database transaction commits."""
    from .tasks import multisig_transaction_broadcast_task

    transaction.on_commit(lambda: multisig_transaction_broadcast_task.delay(transaction_id))


def multisig_transaction_broadcast(*, client: ChainClient, transaction_id: int) -> MultisigTransaction:
    """Put an approved transaction on chain exactly once.

    Signs execTransaction with the relayer key (estimating gas simulates it: a call that would
    fail is marked failed, nothing sent), stores the raw transaction and its hash, commits, and
    only then sends those bytes. Called again, it re-sends the stored bytes and never signs anew.
    Refuses a transaction that is not approved (e.g. below threshold): nothing is sent.
    """
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if tx.state == TxState.APPROVED:
        tx = _broadcast_prepare(client=client, tx=tx)
    if tx.state != TxState.BROADCASTING:
        return tx  # already sent, finished, or not approved: nothing to send
    client.raw_send(bytes(tx.relayer_raw_tx or b""))
    return transition_apply(model=MultisigTransaction, pk=tx.pk, transition="submit", actor=None,
                            check_permission=False, data={"relayer_tx_hash": tx.relayer_tx_hash})


def _broadcast_prepare(*, client: ChainClient, tx: MultisigTransaction) -> MultisigTransaction:
    chain_nonce = client.safe_nonce(tx.safe_address)
    if chain_nonce > tx.nonce:
        reason = f"nonce {tx.nonce} was used on chain by another transaction (multisig nonce is now {chain_nonce})"
        return transition_apply(model=MultisigTransaction, pk=tx.pk, transition="fail", actor=None,
                                check_permission=False, reason=reason, params={"reason": reason})
    if chain_nonce < tx.nonce:
        raise ChainError(f"multisig nonce is {chain_nonce}: transaction #{tx.nonce} waits for earlier ones")
    signatures = signatures_pack({c.owner_address: bytes(c.signature) for c in tx.confirmations.all()})
    data = client.exec_transaction_data(safe=tx.safe_address, tx=safe_tx_of(tx), signatures=signatures)
    relayer = relayer_account()
    used = MultisigTransaction.objects.filter(relayer_address=relayer.address).aggregate(m=Max("relayer_nonce"))["m"]
    chain_count = client.account_nonce(relayer.address)
    nonce = max(chain_count, (used + 1) if used is not None else 0)
    try:
        signed = client.transaction_sign(account=relayer, tx={"to": tx.safe_address, "data": data}, nonce=nonce)
    except ChainError as exc:
        reason = f"simulation failed: {exc}"
        return transition_apply(model=MultisigTransaction, pk=tx.pk, transition="fail", actor=None,
                                check_permission=False, reason=reason, params={"reason": reason})
    return transition_apply(
        model=MultisigTransaction, pk=tx.pk, transition="broadcast", actor=None, check_permission=False,
        params={"relayer_address": relayer.address, "relayer_nonce": signed.nonce, "tx_hash": signed.tx_hash,
                "raw": signed.raw},
        data={"relayer_tx_hash": signed.tx_hash, "relayer_nonce": signed.nonce},
    )


def multisig_transaction_follow(*, client: ChainClient, transaction_id: int, confirmations: int) -> MultisigTransaction:
    """Settle a submitted transaction from its receipt once it is `confirmations` blocks deep.

    `executed` needs status 1 and the multisig's ExecutionSuccess for this safeTxHash; a revert or
    ExecutionFailure is `failed` with the reason. Returns the row unchanged while not yet final.
    """
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if tx.state not in (TxState.BROADCASTING, TxState.SUBMITTED):
        return tx
    receipt = client.receipt(tx.relayer_tx_hash)
    if receipt is None or receipt.get("blockNumber") is None:
        if tx.state == TxState.BROADCASTING or receipt is None:
            client.raw_send(bytes(tx.relayer_raw_tx or b""))  # the same bytes: harmless if known
        return tx
    block = int(receipt["blockNumber"])
    if client.block_number() - block + 1 < confirmations:
        return tx
    facts: dict[str, Any] = {"block_number": block, "block_hash": "0x" + bytes(receipt["blockHash"]).hex(),
             "gas_used": int(receipt["gasUsed"])}
    success = [e for e in client.events(contract_name="SafeL2", address=tx.safe_address, event="ExecutionSuccess",
                                        receipt=receipt) if "0x" + bytes(e["txHash"]).hex() == tx.safe_tx_hash]
    if receipt["status"] == 1 and success:
        return transition_apply(model=MultisigTransaction, pk=tx.pk, transition="execute", actor=None,
                                check_permission=False, data=facts, params={**facts, "executed_at": timezone.now()})
    reason = "the multisig reported ExecutionFailure" if receipt["status"] == 1 else "the transaction reverted"
    return transition_apply(model=MultisigTransaction, pk=tx.pk, transition="fail", actor=None,
                            check_permission=False, reason=reason, data=facts, params={**facts, "reason": reason})
