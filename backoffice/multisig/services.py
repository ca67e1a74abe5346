"""Signers, multisig transactions, confirmations and the broadcaster.

Chain reads happen before a row is locked; chain writes only after the row change committed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from backoffice.accounts.notices import (
    transaction_approved_notify,
    transaction_proposed_notify,
    transaction_settled_notify,
)
from backoffice.chain.addresses import address_require_checksummed
from backoffice.chain.client import ChainClient, ChainError, ChainIdMismatch, ChainUnavailable
from backoffice.chain.models import Deployment, Multisig
from backoffice.chain.nonces import nonce_claim, nonce_next
from backoffice.chain.safetx import InvalidSignature, SafeTx, signature_parse, signature_recover
from backoffice.chain.selectors import deployment_get
from backoffice.core.tasks import task_enqueue_on_commit
from backoffice.journal.services import TransitionRefused, journal_record, transition_apply

from .actions import transaction_after_execution, transaction_guards_run
from .kinds import KINDS, executor_addresses, kind_of, multisig_of
from .kinds import safe_tx_of as safe_tx_of  # the services' name for it, used across the apps
from .models import LIVE_STATES, SENDING_STATES, Confirmation, MultisigRole, MultisigTransaction, Signer, TxState

logger = logging.getLogger(__name__)


class SignatureRefused(Exception):
    """A signature that is not acceptable; nothing was stored (the refusal is journalled)."""


def signer_bind(*, user: User, address: str, multisig: str, actor: User | None) -> Signer:
    """Bind `user` to a checksummed signing address for one multisig.

    Refuses a malformed or non-checksummed address, an address bound to someone else, and a user
    already bound to another address (the unique constraints enforce it under races too).
    """
    address = address_require_checksummed(address)
    if address in executor_addresses():
        raise ValueError(f"{address} is the executor's address (MULTISIG_EXECUTOR_KEY_FILE): the executor never "
                         "approves, so no signer may be bound to it")
    if multisig not in MultisigRole.values:
        raise ValueError(f"multisig must be one of {', '.join(MultisigRole.values)}")
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
    return deployment_get().multisig(multisig).address


def multisig_transaction_propose(
    *, client: ChainClient, multisig: str, to: str, data: bytes, decoded: dict[str, Any],
    actor: User | None, value: int = 0,
) -> MultisigTransaction:
    """Freeze a SafeTx at the next free nonce of `multisig`, with its hash and the on-chain threshold.

    The nonce is the larger of the chain's and one past the highest live one we already queued.
    Proposers are serialised by a row lock, and a unique constraint on (multisig, nonce) among live
    transactions would refuse a duplicate even so.
    """
    safe = _safe_address(multisig)
    chain_nonce, threshold = client.safe_nonce_threshold(safe)  # one request to the node
    with transaction.atomic():
        # Nonces are handed out one proposer at a time: the deployment row is the per-chain lock.
        Deployment.objects.select_for_update().get(chain_id=client.chain_id)
        live = MultisigTransaction.objects.filter(safe_address=safe, state__in=LIVE_STATES)
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
        transaction_proposed_notify(tx)
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
    tx, kind, signer_pk, signer_address = _signing_read(transaction_id=transaction_id, user_id=actor.pk)
    if kind is None:
        raise Multisig.DoesNotExist(f"no multisig is recorded at {tx.safe_address} on chain {tx.chain_id}")
    if not KINDS[kind].signs_off_chain:
        raise _refuse(tx, actor, "this multisig takes no off-chain signatures: owners approve on chain "
                                 "(approveHash), from the signing page or with a signed transaction")
    try:
        owner = signature_recover(digest=bytes.fromhex(tx.safe_tx_hash[2:]), signature=signature)
    except InvalidSignature as exc:
        raise _refuse(tx, actor, f"malformed signature: {exc}") from exc
    if signer_pk is None:
        raise _refuse(tx, actor, f"you are not a signer of the {tx.multisig} multisig")
    if settings.MULTISIG_FOUR_EYES and tx.multisig == MultisigRole.ISSUANCE and tx.created_by_id == actor.pk:
        raise _refuse(tx, actor, "you proposed this transaction; another owner must sign it (four eyes)")
    if owner != signer_address:
        raise _refuse(tx, actor, f"the signature is by {owner}, not by your bound address {signer_address} "
                                 "(wrong account, or signed for another transaction or chain)")
    if owner not in client.safe_owners(tx.safe_address):
        raise _refuse(tx, actor, f"{owner} is not an owner of the multisig on chain")
    raw = signature_parse(signature)
    refusal, confirmation = None, None
    with transaction.atomic():
        state, threshold = _signing_lock(tx.pk)
        count = 0
        if state != TxState.AWAITING_SIGNATURES:
            refusal = f"the transaction is {state}, it takes no more signatures"
        else:
            # Every writer of confirmations holds this row's lock, so what this sees stays true until
            # the insert (and the unique constraints would refuse a second signature by one signer).
            # A statement of its own, after the lock: the locking statement's snapshot is older than
            # the lock and could miss a signature committed while it waited.
            signed, mine = _signatures_count(tx.pk, signer_pk)
            if mine:
                refusal = "you have already signed this transaction"
            else:
                confirmation = _confirmation_insert(Confirmation(
                    transaction_id=tx.pk, signer_id=signer_pk, owner_address=owner, signature=raw,
                    created_at=timezone.now()))
                count = signed + 1
        if confirmation is not None:
            journal_record(action="multisig.signature_accepted", actor=actor, obj=tx,
                           data={"owner": owner, "count": count, "threshold": threshold})
            if count >= threshold:
                approved = transition_apply(model=MultisigTransaction, pk=tx.pk, transition="approve",
                                            actor=actor, check_permission=False,
                                            reason="threshold of valid signatures reached")
                # The broadcast queued ahead of the mails: on commit the messages go out in this order, and
                # a worker would otherwise deliver a dozen mails before sending what the owners approved.
                multisig_transaction_schedule(transaction_id=tx.pk)
                transaction_approved_notify(approved)
    # Refused after the block, so the refusal's journal entry is not rolled back with it.
    if refusal is not None or confirmation is None:
        raise _refuse(tx, actor, refusal or "the signature was not stored")
    return confirmation


# Accepting a signature is the product's busiest write (every owner, every proposal). Its reads and writes
# are plain SQL: the ORM's query building cost more than the database's own work (make bench, "signature
# acceptance"). Each statement is still one round trip, and the lock and the checks are the same.
# The transaction's columns as _SIGNING_READ_SQL names them, in order.
_SIGNING_READ_FIELDS = ("id", "multisig", "chain_id", "safe_address", "safe_tx_hash", "created_by_id", "state",
                        "threshold")
_SIGNING_READ_SQL = """
SELECT t.id, t.multisig, t.chain_id, t.safe_address, t.safe_tx_hash, t.created_by_id, t.state, t.threshold,
       m.kind, s.id, s.address
FROM multisig_multisigtransaction t
LEFT JOIN chain_multisig m ON m.chain_id = t.chain_id AND m.address = t.safe_address
LEFT JOIN multisig_signer s ON s.user_id = %s AND s.multisig = t.multisig
WHERE t.id = %s
"""


def _signing_read(*, transaction_id: int, user_id: int | None
                  ) -> tuple[MultisigTransaction, str | None, int | None, str | None]:
    """The transaction (the fields a signature is checked against), its multisig's kind, and the
    actor's signer binding for that multisig, in one query (unique keys: at most one row)."""
    with connection.cursor() as cursor:
        cursor.execute(_SIGNING_READ_SQL, [user_id, transaction_id])
        row = cursor.fetchone()
    if row is None:
        raise MultisigTransaction.DoesNotExist(f"no multisig transaction #{transaction_id}")
    # The columns read, and every other one deferred: the object loads them if someone asks.
    read = dict(zip(_SIGNING_READ_FIELDS, row[:len(_SIGNING_READ_FIELDS)], strict=True))
    names = [f.attname for f in MultisigTransaction._meta.concrete_fields if f.attname in read]
    tx = MultisigTransaction.from_db(connection.alias, names, [read[name] for name in names])
    return tx, row[-3], row[-2], row[-1]


def _signing_lock(transaction_id: int) -> tuple[str, int]:
    """Lock the transaction's row until the caller's transaction ends; its state and threshold now."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT state, threshold FROM multisig_multisigtransaction WHERE id = %s{lock}",  # noqa: S608
                       [transaction_id])
        row = cursor.fetchone()
    if row is None:
        raise MultisigTransaction.DoesNotExist(f"no multisig transaction #{transaction_id}")
    return row[0], row[1]


def _signatures_count(transaction_id: int, signer_pk: int) -> tuple[int, int]:
    """The transaction's confirmations, and how many of them are this signer's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), coalesce(sum(CASE WHEN signer_id = %s THEN 1 ELSE 0 END), 0) "
                       "FROM multisig_confirmation WHERE transaction_id = %s", [signer_pk, transaction_id])
        signed, mine = cursor.fetchone()
    return signed, mine


def _confirmation_insert(confirmation: Confirmation) -> Confirmation:
    """Store the confirmation (no signal receivers listen to this model; created_at is set by the caller,
    as auto_now_add would)."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO multisig_confirmation (transaction_id, signer_id, owner_address, signature, "
                       "event_id, created_at) VALUES (%s, %s, %s, %s, NULL, %s) RETURNING id",
                       [confirmation.transaction_id, confirmation.signer_id, confirmation.owner_address,
                        confirmation.signature, connection.ops.adapt_datetimefield_value(confirmation.created_at)])
        confirmation.pk = cursor.fetchone()[0]
    confirmation._state.adding, confirmation._state.db = False, connection.alias
    return confirmation


def multisig_transaction_schedule(*, transaction_id: int) -> None:
    """Hand the transaction to the broadcaster once the current database transaction commits. A broker
    that is down then is only logged: the transaction is approved in the database, and the sweep
    (multisig_sweep_task) sends it later."""
    from .tasks import multisig_transaction_broadcast_task

    task_enqueue_on_commit(multisig_transaction_broadcast_task, transaction_id)


class GuardRefused(Exception):
    """A pre-broadcast guard (e.g. the collateral guard) refuses to let the transaction be sent."""


def _guards_run(tx: MultisigTransaction, client: ChainClient) -> None:
    """The guard of the registered action the transaction's bytes call (backoffice.multisig.actions),
    so apps add rules without the kernel knowing them."""
    transaction_guards_run(tx, client)


def multisig_transaction_broadcast(*, client: ChainClient, transaction_id: int) -> MultisigTransaction:
    """Put an approved transaction on chain exactly once.

    Checks the multisig nonce (an earlier one pending: ChainError, try later), runs the guards
    (refused: failed, nothing sent), signs execTransaction with the relayer key (estimating gas
    simulates it: a failing call is marked failed, nothing sent), stores the raw transaction and
    its hash, commits, and only then sends those bytes. Called again, it re-sends the stored bytes
    and never signs anew. A transaction that is not approved (e.g. below threshold) is left alone.
    """
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if tx.state == TxState.APPROVED:
        tx = _broadcast_prepare(client=client, tx=tx)
    if tx.state != TxState.BROADCASTING:
        return tx  # already sent, finished, refused or not approved: nothing to send
    if not _raw_resend(client, tx):
        return tx  # refused by the node: the follower replaces it once it counts as stuck
    return _settle(tx, "submit", data={"relayer_tx_hash": tx.relayer_tx_hash})


def _raw_resend(client: ChainClient, tx: MultisigTransaction) -> bool:
    """Send the stored bytes again. A node that refuses them (e.g. the base fee rose above the
    stored fee cap) is not an error to retry: the follower's replacement at higher fees is the cure."""
    try:
        client.raw_send(bytes(tx.relayer_raw_tx or b""))
    except (ChainUnavailable, ChainIdMismatch):
        raise  # the node, not the transaction: retried, or refused until the configuration is mended
    except ChainError as exc:
        logger.warning("multisig-tx=%s relayer-tx=%s refused=%s", tx.pk, tx.relayer_tx_hash, exc)
        return False
    return True


def _settle(tx: MultisigTransaction, transition: str, **kwargs: Any) -> MultisigTransaction:
    """A system transition that another worker may have taken first (a redelivered or duplicate
    task): then the row already says what happened, and that is the answer."""
    try:
        with transaction.atomic():
            settled = transition_apply(model=MultisigTransaction, pk=tx.pk, transition=transition, actor=None,
                                       check_permission=False, **kwargs)
            transaction_settled_notify(settled)  # executed or failed: told in the same database transaction
            return settled
    except TransitionRefused:
        return MultisigTransaction.objects.get(pk=tx.pk)


def _abandon(tx: MultisigTransaction, reason: str, *, nonce_used: bool = False) -> MultisigTransaction:
    """Nothing was sent: mark it failed, unless another broadcaster has claimed it meanwhile (then the
    row already tells the truth, and a stale view here must not overwrite it). Its threshold of
    signatures stays valid on chain, so unless its nonce is already used a rejection is proposed."""
    settled = _settle(tx, "abandon", reason=reason, params={"reason": reason})
    if settled.state == TxState.FAILED and settled.failure_reason == reason and not nonce_used:
        _rejection_if_needed(settled, actor=None, reason=f"burn nonce {tx.nonce}: {reason}", signed=True)
    return settled


def _broadcast_prepare(*, client: ChainClient, tx: MultisigTransaction) -> MultisigTransaction:
    call = kind_of(multisig_of(tx)).execution_call(client=client, tx=tx, multisig=multisig_of(tx))
    if call is None:
        # No executor for this multisig here: an owner sends the execution from the signing page, and
        # the chain watcher settles it. Nothing to send, and nothing to conclude from the nonce either
        # (an owner's execution not yet indexed has already moved it).
        return tx
    chain_nonce = client.safe_nonce(tx.safe_address)
    if chain_nonce > tx.nonce:
        return _abandon(tx, nonce_used=True, reason=f"nonce {tx.nonce} was used on chain by another transaction "
                         f"(the multisig nonce is now {chain_nonce})")
    if chain_nonce < tx.nonce:
        raise ChainError(f"multisig nonce is {chain_nonce}: transaction #{tx.nonce} waits for earlier ones")
    try:
        _guards_run(tx, client)
    except GuardRefused as exc:
        return _abandon(tx, f"refused before sending: {exc}")
    relayer = call.account
    try:
        signed = client.transaction_sign(account=relayer, tx={"to": tx.safe_address, "data": call.data},
                                         nonce=nonce_next(client, relayer.address))
    except (ChainUnavailable, ChainIdMismatch):
        raise  # the node, not the transaction: nothing is abandoned for it
    except ChainError as exc:
        return _abandon(tx, f"simulation failed: {exc}")
    # The claim: only one broadcaster moves the row from `approved` (the row lock and the FSM check
    # the state); a loser gets the winner's row back and re-sends at most the winner's stored bytes.
    # The winner also claims the relayer's nonce in the same database transaction: if a journal anchor
    # stored that nonce first, both roll back (NonceTaken, a ChainError: the task signs again later).
    with transaction.atomic():
        settled = _settle(
            tx, "broadcast",
            params={"relayer_address": relayer.address, "relayer_nonce": signed.nonce, "tx_hash": signed.tx_hash,
                    "raw": signed.raw, "at": timezone.now()},
            data={"relayer_tx_hash": signed.tx_hash, "relayer_nonce": signed.nonce},
        )
        if settled.relayer_tx_hash == signed.tx_hash:
            nonce_claim(chain_id=tx.chain_id, address=relayer.address, nonce=signed.nonce,
                        purpose=f"multisig.multisigtransaction {tx.pk}")
    return settled


def _receipt_find(client: ChainClient, tx: MultisigTransaction) -> dict[str, Any] | None:
    for tx_hash in [tx.relayer_tx_hash, *reversed(tx.previous_tx_hashes)]:
        receipt = client.receipt(tx_hash)
        if receipt is not None and receipt.get("blockNumber") is not None:
            return receipt
    return None


def multisig_transaction_follow(*, client: ChainClient, transaction_id: int, confirmations: int) -> MultisigTransaction:
    """Settle a sent transaction from its receipt once it is `confirmations` blocks deep.

    `executed` needs status 1 and the multisig's ExecutionSuccess for this safeTxHash; a revert or
    ExecutionFailure is `failed` with the reason. No receipt yet: the stored bytes are re-sent (a
    receipt lost to a reorg brings the transaction back to the pool), and a transaction waiting
    longer than MULTISIG_STUCK_SECONDS is replaced at the same relayer nonce with higher fees.
    Returns the row unchanged while not final.
    """
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if tx.state not in SENDING_STATES:
        return tx
    receipt = _receipt_find(client, tx)
    if receipt is None:
        if _is_stuck(tx):
            return _relayer_tx_replace(client=client, tx=tx)
        _raw_resend(client, tx)  # the same bytes: harmless if known
        return tx
    block = int(receipt["blockNumber"])
    # A receipt is in a block the node has: one confirmation needs no look at the head.
    if confirmations > 1 and client.block_number() - block + 1 < confirmations:
        return tx
    facts: dict[str, Any] = {"block_number": block, "block_hash": "0x" + bytes(receipt["blockHash"]).hex(),
                             "gas_used": int(receipt["gasUsed"])}
    success = [e for e in client.events(contract_name="SafeL2", address=tx.safe_address, event="ExecutionSuccess",
                                        receipt=receipt) if "0x" + bytes(e["txHash"]).hex() == tx.safe_tx_hash]
    if receipt["status"] == 1 and success:
        return _settle(tx, "execute", data=facts, params={**facts, "executed_at": timezone.now()})
    reason = "the multisig reported ExecutionFailure" if receipt["status"] == 1 else "the transaction reverted"
    failed = _settle(tx, "fail", reason=reason, data=facts, params={**facts, "reason": reason})
    if failed.state == TxState.FAILED and receipt["status"] != 1:
        # A reverted execTransaction leaves the multisig nonce unused and the signatures valid.
        _rejection_if_needed(failed, actor=None, reason=f"burn nonce {tx.nonce}: {reason}", signed=True)
    return failed


def _is_stuck(tx: MultisigTransaction) -> bool:
    return tx.sent_at is not None and (timezone.now() - tx.sent_at).total_seconds() > settings.MULTISIG_STUCK_SECONDS


def _relayer_tx_replace(*, client: ChainClient, tx: MultisigTransaction) -> MultisigTransaction:
    """Re-sign the same call at the same relayer nonce with fees 25 % higher, store it, then send it."""
    call = kind_of(multisig_of(tx)).execution_call(client=client, tx=tx, multisig=multisig_of(tx))
    if call is None or call.account.address != tx.relayer_address:
        raise ChainError(f"the account {tx.relayer_address} that sent transaction {tx.pk} is no longer configured: "
                         "its stuck transaction cannot be replaced")
    bump = 25 * (len(tx.previous_tx_hashes) + 1)
    signed = client.transaction_sign(account=call.account, tx={"to": tx.safe_address, "data": call.data},
                                     nonce=tx.relayer_nonce, fee_bump_percent=bump)
    tx = transition_apply(model=MultisigTransaction, pk=tx.pk, transition="replace_relayer_tx", actor=None,
                          check_permission=False, reason=f"stuck: replaced with fees +{bump} %",
                          params={"tx_hash": signed.tx_hash, "raw": signed.raw, "at": timezone.now()},
                          data={"relayer_tx_hash": signed.tx_hash, "replaced": tx.relayer_tx_hash})
    client.raw_send(signed.raw)
    return tx


def multisig_transaction_reorg_check(*, client: ChainClient, transaction_id: int) -> MultisigTransaction:
    """An executed transaction whose block is no longer canonical goes back to `submitted`."""
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if tx.state != TxState.EXECUTED or tx.block_number is None:
        return tx
    try:
        canonical = client.block_hash(tx.block_number)
    except ChainUnavailable:
        raise  # a node that does not answer says nothing about reorgs
    except Exception:  # noqa: BLE001 - web3's BlockNotFound: a block beyond the head is gone
        canonical = ""
    if canonical == tx.block_hash:
        return tx
    return transition_apply(model=MultisigTransaction, pk=tx.pk, transition="reorg", actor=None,
                            check_permission=False, reason=f"block {tx.block_number} is no longer canonical",
                            data={"block_hash": tx.block_hash, "canonical": canonical})


def multisig_transaction_cancel(
    *, client: ChainClient, transaction_id: int, reason: str, actor: User
) -> MultisigTransaction | None:
    """Withdraw a transaction before it is sent. Returns the rejection transaction, if one is needed.

    A transaction that carries any valid signature (approved, or partly signed: the other owners
    could complete it outside the product, and anyone holding the signatures could send it), or
    whose nonce later transactions depend on, is replaced by a rejection: an empty call at the same
    nonce for the owners to sign, so the old signatures can never be used and the queue never jams.
    Refuses (TransitionRefused, nothing changed) a transaction already being sent or settled.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required")
    with transaction.atomic():
        # The proposers' lock: no new nonce can be handed out while we decide whether one is needed.
        Deployment.objects.select_for_update().get(chain_id=client.chain_id)
        tx = MultisigTransaction.objects.select_for_update().get(pk=transaction_id)
        later = MultisigTransaction.objects.filter(safe_address=tx.safe_address, nonce__gt=tx.nonce,
                                                   state__in=LIVE_STATES).exists()
        needs_rejection = tx.state == TxState.APPROVED or later or tx.confirmations.exists()
        transition_apply(model=MultisigTransaction, pk=tx.pk, transition="cancel", actor=actor,
                         check_permission=False, reason=reason, params={"reason": reason})
        if not needs_rejection:
            return None
        return _rejection_create(tx, actor=actor, reason=reason)


def _rejection_create(tx: MultisigTransaction, *, actor: User | None, reason: str) -> MultisigTransaction:
    """An empty call to the multisig itself at `tx`'s nonce, for the signers to sign: executing it
    uses up the nonce, so `tx`'s signatures can never run and later nonces move on.
    Call inside a transaction holding the proposers' lock."""
    safe_tx = SafeTx(to=tx.safe_address, value=0, data=b"", operation=0, nonce=tx.nonce)
    rejection = MultisigTransaction.objects.create(
        multisig=tx.multisig, safe_address=tx.safe_address, chain_id=tx.chain_id, to=tx.safe_address, value=0,
        data=b"", operation=0, nonce=tx.nonce, threshold=tx.threshold, replaces=tx, created_by=actor,
        decoded={"function": "rejection", "replaces": tx.safe_tx_hash, "nonce": tx.nonce},
        safe_tx_hash="0x" + safe_tx.safe_tx_hash(chain_id=tx.chain_id, safe_address=tx.safe_address).hex(),
    )
    journal_record(action="multisig.rejection_proposed", actor=actor, obj=rejection, state_after=rejection.state,
                   reason=reason, actor_username="" if actor else "system",
                   data={"replaces": tx.safe_tx_hash, "nonce": tx.nonce})
    transaction_proposed_notify(rejection)
    return rejection


def _rejection_if_needed(tx: MultisigTransaction, *, actor: User | None, reason: str, signed: bool) -> None:
    """After `tx` ended without using its nonce: burn the nonce with a rejection when `tx` carries
    enough signatures to be run by anyone (`signed`), or later nonces wait on it."""
    with transaction.atomic():
        Deployment.objects.select_for_update().get(chain_id=tx.chain_id)
        later = MultisigTransaction.objects.filter(safe_address=tx.safe_address, nonce__gt=tx.nonce,
                                                   state__in=LIVE_STATES).exists()
        taken = MultisigTransaction.objects.filter(safe_address=tx.safe_address, nonce=tx.nonce,
                                                   state__in=LIVE_STATES).exists()
        if (signed or later) and not taken:
            _rejection_create(tx, actor=actor, reason=reason)


def multisig_transaction_reject(*, transaction_id: int, reason: str, actor: User) -> MultisigTransaction:
    """A signer of the multisig refuses a transaction awaiting signatures (reason required)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required")
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if not Signer.objects.filter(user_id=actor.pk, multisig=tx.multisig).exists():
        raise TransitionRefused(f"only a signer of the {tx.multisig} multisig may reject it")
    rejected = transition_apply(model=MultisigTransaction, pk=transaction_id, transition="reject", actor=actor,
                                check_permission=False, reason=reason, params={"reason": reason})
    _rejection_if_needed(rejected, actor=actor, reason=f"burn nonce {rejected.nonce}: {reason}", signed=False)
    return rejected


def multisig_transactions_unsettled() -> list[int]:
    """Ids the periodic sweep re-queues: approved but unsent, or sent but not settled."""
    return list(MultisigTransaction.objects.filter(
        state__in=[TxState.APPROVED, *SENDING_STATES]).order_by("nonce", "pk")
        .values_list("pk", flat=True))


def multisig_transactions_recently_executed(*, client: ChainClient, depth: int) -> list[int]:
    """Executed within the last `depth` blocks: still worth a reorg check."""
    head = client.block_number()
    return list(MultisigTransaction.objects.filter(state=TxState.EXECUTED, block_number__gte=max(head - depth, 0))
                .values_list("pk", flat=True))


def multisig_transaction_after_execution(*, client: ChainClient, transaction_id: int) -> None:
    """The after-execution step of the registered action the transaction's bytes call (e.g. the
    frozen-address register refresh), run by the follower once it is executed and committed."""
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    if tx.state != TxState.EXECUTED:
        return
    transaction_after_execution(tx, client)
