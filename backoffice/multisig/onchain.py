"""Services of the on-chain consent path (the USDKG multisig): approvals and executions the chain
watcher saw, the calls the signing page asks an owner's wallet to send, and signed transactions
handed in by offline or hardware signers.

The server never counts what a page or a client reports: an approval exists once its `ApproveHash`
log is indexed past the confirmation depth, and a reorg that removes the log removes the approval.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from backoffice.accounts.notices import transaction_approved_notify, transaction_settled_notify
from backoffice.chain.client import ChainClient, ChainError, ChainUnavailable
from backoffice.chain.models import ChainEvent, Multisig
from backoffice.core.errors import InvalidInput
from backoffice.core.tasks import task_enqueue_on_commit
from backoffice.journal.services import TransitionRefused, journal_record, transition_apply

from .kinds import executor_accounts, kind_of, multisig_of, onchain_kinds, safe_tx_of
from .models import (
    ABANDONED_STATES,
    UNSENT_STATES,
    Confirmation,
    MultisigTransaction,
    RawState,
    RawSubmission,
    Signer,
    TxState,
)
from .services import GuardRefused, _guards_run, multisig_transaction_schedule

logger = logging.getLogger(__name__)

MULTISIG_EVENTS = ("ApproveHash", "ExecutionSuccess", "ExecutionFailure")
RAW_MAX_BYTES = 64 * 1024  # far above any approveHash or execTransaction of ours


class CallRefused(Exception):
    """The page may not offer this call to this user now; the message says why. Nothing changed."""


# --- what the watcher saw ---------------------------------------------------------------------
def _transaction_for(event: ChainEvent, safe_tx_hash: str) -> MultisigTransaction | None:
    """The transaction of ours with that hash at that multisig: the live one if there is one."""
    rows = MultisigTransaction.objects.filter(chain_id=event.chain_id, safe_address=event.address,
                                              safe_tx_hash=safe_tx_hash.lower())
    return rows.exclude(state__in=ABANDONED_STATES).first() or rows.first()


def _approval_apply(event: ChainEvent, multisigs: dict[str, Multisig]) -> None:
    multisig = multisigs.get(event.address)
    tx = _transaction_for(event, str(event.args.get("approvedHash", "")))
    owner = to_checksum_address(str(event.args.get("owner")))
    with transaction.atomic():
        if not ChainEvent.objects.filter(pk=event.pk, applied=False).update(applied=True):
            return  # another run applied it
        if tx is None or multisig is None or kind_of(multisig).signs_off_chain:
            return  # an approval of something we never proposed, or a Safe's (its owners sign off chain)
        locked = MultisigTransaction.objects.select_for_update().get(pk=tx.pk)
        signer = Signer.objects.filter(address=owner, multisig=multisig.role).first()
        try:
            with transaction.atomic():
                Confirmation.objects.create(transaction=locked, signer=signer, owner_address=owner, event=event)
        except IntegrityError:
            return  # the same owner approved twice: it counts once
        count = locked.confirmations.count()
        journal_record(
            action="multisig.approval_seen", obj=locked, actor=signer.user if signer else None,
            actor_username="" if signer else "chain watcher",
            data={"owner": owner, "bound_to": signer.user.get_username() if signer else None,
                  "tx_hash": event.tx_hash, "block": event.block_number, "count": count,
                  "threshold": locked.threshold},
        )
        if locked.state == TxState.AWAITING_SIGNATURES and locked.has_threshold():
            approved = transition_apply(model=MultisigTransaction, pk=locked.pk, transition="approve", actor=None,
                                        check_permission=False, reason="threshold of on-chain approvals reached",
                                        data={"block": event.block_number})
            multisig_transaction_schedule(transaction_id=locked.pk)  # queued ahead of the mails, as in services
            transaction_approved_notify(approved)


def _execution_apply(client: ChainClient, event: ChainEvent) -> None:
    tx = _transaction_for(event, str(event.args.get("txHash", "")))
    sender = ""
    if tx is not None and (tx.state in UNSENT_STATES or tx.state == TxState.FAILED):
        found = client.transaction_get(event.tx_hash)  # a chain read, before any lock
        sender = found["from"] if found else ""
    with transaction.atomic():
        if not ChainEvent.objects.filter(pk=event.pk, applied=False).update(applied=True):
            return
        if tx is None or not sender:
            return  # not ours, or sent by our worker: the follower settles it from its receipt
        if event.name != "ExecutionSuccess":
            journal_record(action="multisig.execution_failure_seen", obj=tx, actor_username="chain watcher",
                           data={"tx_hash": event.tx_hash, "block": event.block_number})
            return
        try:
            executed = transition_apply(
                model=MultisigTransaction, pk=tx.pk, transition="execute_seen", actor=None, check_permission=False,
                reason=f"executed on chain by {sender}",
                params={"sender": sender, "tx_hash": event.tx_hash, "block_number": event.block_number,
                        "block_hash": event.block_hash, "executed_at": timezone.now()},
                data={"sender": sender, "tx_hash": event.tx_hash, "block": event.block_number},
            )
        except TransitionRefused:
            return
        transaction_settled_notify(executed)
        from .tasks import multisig_after_execution_task

        task_enqueue_on_commit(multisig_after_execution_task, tx.pk)


def _approvals_lost_revert() -> None:
    """Approved on-chain-approval transactions not yet sent whose approvals a reorg removed go back
    to awaiting approvals: the chain would refuse to execute them."""
    onchain = Multisig.objects.filter(kind__in=onchain_kinds()).values_list("address", flat=True)
    for tx in MultisigTransaction.objects.filter(state=TxState.APPROVED, safe_address__in=list(onchain)):
        if not tx.has_threshold():
            try:
                transition_apply(model=MultisigTransaction, pk=tx.pk, transition="unapprove", actor=None,
                                 check_permission=False, reason="on-chain approvals undone by a reorg")
            except TransitionRefused:
                continue


def multisig_chain_events_apply(*, client: ChainClient) -> int:
    """Take the newly indexed multisig events into account, oldest first: each `ApproveHash` of a
    USDKG multisig becomes one approval of the transaction with that hash (the threshold approves
    it and hands it to the executor), each `ExecutionSuccess` of a transaction the back-office did
    not send settles it as executed. Each event is applied once (a conditional update claims it).
    Returns how many events were looked at."""
    multisigs = {m.address: m for m in Multisig.objects.filter(chain_id=client.chain_id)}
    events = list(ChainEvent.objects.filter(chain_id=client.chain_id, applied=False, name__in=MULTISIG_EVENTS,
                                            address__in=list(multisigs)).exclude(role="token")
                  .exclude(name="Transfer").order_by("block_number", "log_index"))
    for event in events:
        if event.name == "ApproveHash":
            _approval_apply(event, multisigs)
        else:
            _execution_apply(client, event)
    _approvals_lost_revert()
    return len(events)


# --- what the signing page asks a wallet to send ------------------------------------------------
def _usdkg_require(tx: MultisigTransaction) -> Multisig:
    multisig = multisig_of(tx)
    if kind_of(multisig).signs_off_chain:
        raise CallRefused("this multisig takes off-chain signatures: sign it instead")
    return multisig


def _owner_require(client: ChainClient, tx: MultisigTransaction, actor: User) -> Signer:
    signer = Signer.objects.filter(user_id=actor.pk, multisig=tx.multisig).first()
    if signer is None:
        raise CallRefused(f"you are not a signer of the {tx.multisig} multisig")
    if signer.address not in client.safe_owners(tx.safe_address):
        raise CallRefused(f"your bound address {signer.address} is not an owner of the multisig on chain")
    return signer


def _head_require(client: ChainClient, tx: MultisigTransaction) -> None:
    chain_nonce = client.safe_nonce(tx.safe_address)
    if chain_nonce < tx.nonce:
        raise CallRefused(f"this transaction waits for nonce {tx.nonce}: the multisig is at nonce {chain_nonce}, "
                          "and only the transaction at the head of the queue can be approved or executed")
    if chain_nonce > tx.nonce:
        raise CallRefused(f"nonce {tx.nonce} is already used on chain: this transaction can never execute")


def _call(tx: MultisigTransaction, signer: Signer, data: bytes, function: str) -> dict[str, Any]:
    return {"from": signer.address, "to": tx.safe_address, "data": "0x" + data.hex(), "value": "0x0",
            "chainId": hex(tx.chain_id), "function": function}


def approval_call_prepare(*, client: ChainClient, transaction_id: int, actor: User) -> dict[str, Any]:
    """The `approveHash(<the whole call>, safeTxHash)` transaction the owner's wallet sends.

    Refuses (CallRefused) unless the multisig approves on chain, the transaction awaits approvals and
    is the head of the queue (the contract approves only at its current nonce), the user's bound
    address is an owner on chain, has not approved it yet, and did not propose it (four eyes)."""
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    _usdkg_require(tx)
    if tx.state != TxState.AWAITING_SIGNATURES:
        raise CallRefused(f"the transaction is {tx.state}: it takes no more approvals")
    if settings.MULTISIG_FOUR_EYES and tx.multisig == "issuance" and tx.created_by_id == actor.pk:
        raise CallRefused("you proposed this transaction; another owner must approve it (four eyes)")
    signer = _owner_require(client, tx, actor)
    _head_require(client, tx)
    if client.usdkg_approved(tx.safe_address, signer.address, tx.safe_tx_hash):
        raise CallRefused("you have already approved this transaction on chain; it is counted once the watcher "
                          "confirms it")
    data = client.usdkg_approve_data(multisig=tx.safe_address, tx=safe_tx_of(tx), safe_tx_hash=tx.safe_tx_hash)
    return _call(tx, signer, data, "approveHash")


def approvals_on_chain(client: ChainClient, tx: MultisigTransaction) -> list[str]:
    """Owners whose approval of `tx` the contract holds now (read directly, for the execute check)."""
    owners = client.safe_owners(tx.safe_address)
    return [o for o in owners if client.usdkg_approved(tx.safe_address, o, tx.safe_tx_hash)]


def execution_call_prepare(*, client: ChainClient, transaction_id: int, actor: User) -> dict[str, Any]:
    """The `execTransaction(<the whole call>)` an owner's wallet sends once the threshold holds.

    Refuses unless the transaction is approved here (the watcher counted the threshold), it is the
    head, the threshold of approvals holds on chain now, the user is an owner on chain, no executor
    is configured to send it, and the guards (e.g. the collateral guard) let it be sent."""
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    multisig = _usdkg_require(tx)
    if tx.state != TxState.APPROVED:
        raise CallRefused(f"the transaction is {tx.state}: only an approved transaction can be executed")
    if any(a.address in multisig.owners for a in executor_accounts()):
        raise CallRefused("the back-office's executor sends this transaction; nothing to do here")
    signer = _owner_require(client, tx, actor)
    _head_require(client, tx)
    approved = approvals_on_chain(client, tx)
    if len(approved) < tx.threshold:
        raise CallRefused(f"the chain holds {len(approved)} of {tx.threshold} approvals: execution would revert")
    try:
        _guards_run(tx, client)
    except GuardRefused as exc:
        raise CallRefused(f"refused before sending: {exc}") from exc
    return _call(tx, signer, client.usdkg_exec_data(multisig=tx.safe_address, tx=safe_tx_of(tx)), "execTransaction")


def chain_tx_report(*, transaction_id: int, tx_hash: str, actor: User) -> None:
    """The page says the wallet sent `tx_hash`: journalled and the watcher asked to look now. Nothing
    is counted from it; the watcher counts what the chain holds."""
    tx_hash = (tx_hash or "").strip().lower()
    if len(tx_hash) != 66 or not tx_hash.startswith("0x") or any(c not in "0123456789abcdef" for c in tx_hash[2:]):
        raise InvalidInput("tx_hash: give the 0x-prefixed 32-byte transaction hash the wallet returned")
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    from backoffice.chain.tasks import chain_index_now_task

    with transaction.atomic():
        journal_record(action="multisig.wallet_sent", actor=actor, obj=tx, data={"tx_hash": tx_hash})
        task_enqueue_on_commit(chain_index_now_task)


# --- signed transactions handed in --------------------------------------------------------------
def _raw_parse(raw: bytes) -> dict[str, Any]:
    """chainId, to, data, sender of a signed transaction (legacy or typed); ValueError if it is none."""
    if raw[:1] and raw[0] <= 0x7F:
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        chain_id = int(fields["chainId"])
    else:
        fields = LegacyTransaction.from_bytes(raw).as_dict()
        v = int(fields["v"])
        if v in (27, 28):
            raise ValueError("a transaction without a chain id (pre-EIP-155) is refused: it could be replayed")
        chain_id = (v - 35) // 2
    to = fields.get("to") or b""
    return {"chain_id": chain_id, "to": to_checksum_address(bytes(to)) if to else "",
            "data": bytes(fields.get("data") or b""), "sender": Account.recover_transaction(raw)}


def raw_submission_create(*, transaction_id: int, raw_hex: str, actor: User) -> RawSubmission:
    """Store a signed transaction for `transaction_id` and hand it to the worker, which validates it
    and sends it. Refuses (InvalidInput, nothing stored) what is not a signed transaction at all."""
    text = (raw_hex or "").strip().lower().removeprefix("0x")
    if not text:
        raise InvalidInput("raw: paste or upload the signed transaction as hexadecimal")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise InvalidInput("raw: the signed transaction must be hexadecimal (0x...)") from exc
    if len(raw) > RAW_MAX_BYTES:
        raise InvalidInput(f"raw: at most {RAW_MAX_BYTES} bytes")
    try:
        _raw_parse(raw)
    except Exception as exc:  # noqa: BLE001 - rlp and signature errors have no common base
        raise InvalidInput(f"raw: not a signed Ethereum transaction ({exc})") from exc
    tx = MultisigTransaction.objects.get(pk=transaction_id)
    _usdkg_require(tx)
    from .tasks import raw_submission_process_task

    tx_hash = "0x" + keccak(raw).hex()
    with transaction.atomic():
        if RawSubmission.objects.filter(tx_hash=tx_hash).exists():
            raise InvalidInput("raw: this signed transaction was handed in already")
        submission = RawSubmission.objects.create(transaction=tx, submitted_by=actor, raw=raw, tx_hash=tx_hash)
        journal_record(action="multisig.raw_received", actor=actor, obj=tx, state_after=submission.state,
                       data={"submission": submission.pk, "tx_hash": tx_hash})
        task_enqueue_on_commit(raw_submission_process_task, submission.pk)
    return submission


def _raw_refusal(client: ChainClient, submission: RawSubmission) -> tuple[str, str]:
    """(function, refusal): what the signed transaction does, and why it may not be sent ("" if it may)."""
    tx = submission.transaction
    parsed = _raw_parse(bytes(submission.raw))
    if parsed["chain_id"] != tx.chain_id:
        return "", f"it is signed for chain id {parsed['chain_id']}, not {tx.chain_id}"
    signer = Signer.objects.filter(user_id=submission.submitted_by_id, multisig=tx.multisig).first()
    if signer is None:
        return "", f"you are not a signer of the {tx.multisig} multisig"
    if parsed["sender"] != signer.address:
        return "", f"it is signed by {parsed['sender']}, not by your bound address {signer.address}"
    if parsed["to"] != tx.safe_address:
        return "", f"it is sent to {parsed['to'] or 'no address'}, not to this multisig {tx.safe_address}"
    # Exactly one of the two calls the page itself would prepare, and only when the page would offer it.
    calls = {
        client.usdkg_approve_data(multisig=tx.safe_address, tx=safe_tx_of(tx), safe_tx_hash=tx.safe_tx_hash):
            ("approveHash", approval_call_prepare),
        client.usdkg_exec_data(multisig=tx.safe_address, tx=safe_tx_of(tx)):
            ("execTransaction", execution_call_prepare),
    }
    if parsed["data"] not in calls:
        return "", ("its calldata is neither approveHash nor execTransaction of exactly this transaction "
                    f"(nonce {tx.nonce}, hash {tx.safe_tx_hash})")
    function, prepare = calls[parsed["data"]]
    try:
        prepare(client=client, transaction_id=tx.pk, actor=submission.submitted_by)
    except CallRefused as exc:
        return function, str(exc)
    return function, ""


def raw_submission_process(*, client: ChainClient, submission_id: int) -> RawSubmission:
    """Validate a handed-in transaction against the chain and this multisig transaction, then send
    the stored bytes. Anything that does not fit is refused with the reason; nothing is sent."""
    submission = RawSubmission.objects.select_related("transaction", "submitted_by").get(pk=submission_id)
    if submission.state != RawState.RECEIVED:
        if submission.state == RawState.SENT:
            client.raw_send(bytes(submission.raw))  # a redelivered task: the same bytes again, harmless
        return submission
    function, refusal = _raw_refusal(client, submission)
    if refusal:
        return transition_apply(model=RawSubmission, pk=submission.pk, transition="refuse", actor=None,
                                check_permission=False, reason=refusal, params={"reason": refusal},
                                data={"tx_hash": submission.tx_hash})
    sent = transition_apply(model=RawSubmission, pk=submission.pk, transition="send", actor=None,
                            check_permission=False, params={"function": function, "at": timezone.now()},
                            data={"tx_hash": submission.tx_hash, "function": function})
    try:
        client.raw_send(bytes(sent.raw))
    except ChainUnavailable:
        raise  # the task retries: the row says sent, and sending the same bytes again is harmless
    except ChainError as exc:
        reason = f"the node refused it: {exc}"
        return transition_apply(model=RawSubmission, pk=sent.pk, transition="refuse", actor=None,
                                check_permission=False, reason=reason, params={"reason": reason})
    return sent
