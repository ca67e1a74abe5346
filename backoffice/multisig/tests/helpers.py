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


def follow_settled(tx_id: int, timeout: float = 30) -> MultisigTransaction:
    """Follow a sent transaction in this process until it is final, as the worker's follower does (or until
    the timeout; the caller asserts the state). anvil mines a transaction as it arrives, but its receipt can
    be a moment late, more so on a loaded machine: a single follow right after sending may find none yet."""
    from backoffice.chain.client import chain_client
    from backoffice.multisig.models import SENDING_STATES
    from backoffice.multisig.services import multisig_transaction_follow

    deadline = time.monotonic() + timeout
    while True:
        tx = multisig_transaction_follow(client=chain_client(), transaction_id=tx_id, confirmations=1)
        if tx.state not in SENDING_STATES or time.monotonic() > deadline:
            return tx
        time.sleep(0.05)


def owner_signature(tx: MultisigTransaction, owner_number: int) -> bytes:
    """Owner N's EIP-712 signature over `tx`, made from the typed data a wallet is served."""
    from eth_account import Account

    from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
    from backoffice.multisig.services import safe_tx_of

    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    return bytes(Account.sign_typed_data(dev_account(OWNER_INDEXES[owner_number - 1]).key,
                                         full_message=typed).signature)


def owners_sign(tx: MultisigTransaction, owner_numbers: tuple[int, ...] = (1, 2, 3)) -> MultisigTransaction:
    """Owners sign `tx` through the service, as the demo users bound to their keys; returns it fresh."""
    from django.contrib.auth import get_user_model

    from backoffice.chain.client import chain_client
    from backoffice.multisig.services import confirmation_add

    for n in owner_numbers:
        confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=owner_signature(tx, n),
                         actor=get_user_model().objects.get(username=f"owner{n}"))
    return MultisigTransaction.objects.get(pk=tx.pk)


def issue_propose(amount: int, recipient: str, *, decoded: dict[str, object] | None = None) -> MultisigTransaction:
    """An issue of `amount` base units to `recipient`, proposed by the demo operator."""
    from django.contrib.auth import get_user_model

    from backoffice.chain.client import chain_client
    from backoffice.chain.selectors import deployment_get
    from backoffice.multisig.models import MultisigRole
    from backoffice.multisig.services import multisig_transaction_propose

    client = chain_client()
    return multisig_transaction_propose(
        client=client, multisig=MultisigRole.ISSUANCE, to=deployment_get().token,
        data=client.token_calldata("issue", recipient, amount),
        decoded=decoded if decoded is not None else {"function": "issue", "to": recipient, "amount": str(amount)},
        actor=get_user_model().objects.get(username="operator"))


def chain_index_until_head() -> None:
    """Run the chain watcher (and its consumers) in this process until it is at the confirmed head."""
    from backoffice.chain.client import chain_client
    from backoffice.chain.watcher import chain_index_step

    while True:
        step = chain_index_step(client=chain_client(), max_blocks=5000)
        if step.to_block < step.from_block:
            return


def wallet_send(call: dict[str, object]) -> str:
    """What a wallet does with the signing page's call: send it from the owner's account (anvil keeps
    the demo owners' accounts unlocked), wait for it to be mined."""
    from backoffice.chain.client import chain_client

    w3 = chain_client().w3
    tx_hash = w3.eth.send_transaction({"from": call["from"], "to": call["to"], "data": call["data"]})  # type: ignore[typeddict-item]
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    return "0x" + bytes(tx_hash).hex()


def consent_and_execute(tx: MultisigTransaction, usernames: list[str]) -> MultisigTransaction:
    """Whatever the multisig's kind, have `usernames` consent and put `tx` on chain in this process:
    signatures then the relayer (Safe), or on-chain approvals counted by the watcher then the last
    approver's execTransaction (USDKG multisig). Returns the row, settled."""
    from django.db import transaction

    with transaction.atomic():
        # One block: in a transactional test with the session's worker running, the broadcast that the
        # threshold schedules is queued only once this process has settled it, so the worker finds
        # nothing left to do instead of racing this process with a second relayer transaction.
        return _consent_and_execute(tx, usernames)


def _consent_and_execute(tx: MultisigTransaction, usernames: list[str]) -> MultisigTransaction:
    from django.contrib.auth import get_user_model

    from backoffice.chain.client import chain_client
    from backoffice.multisig.kinds import kind_of, multisig_of
    from backoffice.multisig.onchain import approval_call_prepare, execution_call_prepare
    from backoffice.multisig.services import (
        confirmation_add,
        multisig_transaction_after_execution,
        multisig_transaction_broadcast,
    )

    client, users = chain_client(), get_user_model().objects
    if kind_of(multisig_of(tx)).signs_off_chain:
        from eth_account import Account

        from backoffice.chain.devkeys import OFFICER_INDEXES, OWNER_INDEXES, dev_account

        typed = tx_typed(tx)
        for username in usernames:
            indexes = OWNER_INDEXES if username.startswith("owner") else OFFICER_INDEXES
            key = dev_account(indexes[int(username[-1]) - 1]).key
            confirmation_add(client=client, transaction_id=tx.pk, actor=users.get(username=username),
                             signature=bytes(Account.sign_typed_data(key, full_message=typed).signature))
        multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
        follow_settled(tx.pk)
    else:
        for username in usernames:
            call = approval_call_prepare(client=client, transaction_id=tx.pk, actor=users.get(username=username))
            wallet_send(call)
        chain_index_until_head()
        last = users.get(username=usernames[-1])
        wallet_send(execution_call_prepare(client=client, transaction_id=tx.pk, actor=last))
        chain_index_until_head()
    # What the worker runs once a transaction is executed (e.g. the frozen-address register's refresh).
    multisig_transaction_after_execution(client=client, transaction_id=tx.pk)
    return MultisigTransaction.objects.get(pk=tx.pk)


def tx_typed(tx: MultisigTransaction) -> dict[str, object]:
    from backoffice.multisig.services import safe_tx_of

    return safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
