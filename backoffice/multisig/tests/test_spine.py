"""The spine, end to end on real parts: 3 of 7 owners sign an issue, the Celery worker executes it."""


import pytest
from django.contrib.auth import get_user_model
from eth_account import Account

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.journal.selectors import journal_verify
from backoffice.multisig.models import MultisigRole, MultisigTransaction, TxState
from backoffice.multisig.services import confirmation_add, multisig_transaction_propose, safe_tx_of
from backoffice.multisig.tasks import multisig_transaction_broadcast_task
from backoffice.multisig.tests.helpers import tx_wait

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

RECIPIENT = dev_account(15).address
AMOUNT = 1_250_000_000  # 1,250 USDKG in base units (6 decimals)


def _propose_issue(client, amount: int = AMOUNT) -> MultisigTransaction:
    d = deployment_get()
    return multisig_transaction_propose(
        client=client, multisig=MultisigRole.ISSUANCE, to=d.token,
        data=client.token_calldata("issue", RECIPIENT, amount),
        decoded={"function": "issue", "to": RECIPIENT, "amount": str(amount)},
        actor=get_user_model().objects.get(username="operator"),
    )


def _sign(tx: MultisigTransaction, owner_number: int) -> None:
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    key = dev_account(OWNER_INDEXES[owner_number - 1]).key
    signature = Account.sign_typed_data(key, full_message=typed).signature
    owner = get_user_model().objects.get(username=f"owner{owner_number}")
    confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=signature, actor=owner)


def test_issue_signed_by_three_owners_is_executed_on_chain_by_the_worker(chain, celery_worker, gold_backing):
    client, d = chain_client(), deployment_get()
    supply, balance = client.token_total_supply(d.token), client.token_balance(d.token, RECIPIENT)
    tx = _propose_issue(client)

    # Our EIP-712 hash is the multisig's own.
    assert tx.safe_tx_hash == "0x" + client.safe_tx_hash_onchain(d.issuance_multisig, safe_tx_of(tx)).hex()

    for owner_number in (5, 2, 7):  # any three; the broadcaster sorts their signatures by address
        _sign(tx, owner_number)
    tx = tx_wait(tx.pk, {TxState.EXECUTED, TxState.FAILED})
    assert tx.state == TxState.EXECUTED, tx.failure_reason

    assert client.token_total_supply(d.token) == supply + AMOUNT
    assert client.token_balance(d.token, RECIPIENT) == balance + AMOUNT
    receipt = client.receipt(tx.relayer_tx_hash)
    assert receipt is not None and receipt["status"] == 1
    assert receipt["from"] == relayer_account().address and receipt["to"] == d.issuance_multisig
    issued = client.events(contract_name="USDKG", address=d.token, event="Issue", receipt=receipt)
    assert issued == [{"amount": AMOUNT}]
    assert client.events(contract_name="USDKG", address=d.token, event="Transfer", receipt=receipt) == []
    success = client.events(contract_name="SafeL2", address=d.issuance_multisig, event="ExecutionSuccess",
                            receipt=receipt)
    assert ["0x" + bytes(e["txHash"]).hex() for e in success] == [tx.safe_tx_hash]
    assert (tx.block_number, tx.block_hash, tx.gas_used) == (
        receipt["blockNumber"], "0x" + bytes(receipt["blockHash"]).hex(), receipt["gasUsed"])
    assert client.safe_nonce(d.issuance_multisig) == tx.nonce + 1
    assert journal_verify().ok


def test_two_signatures_are_refused_before_anything_is_sent(chain, celery_worker):
    client, d = chain_client(), deployment_get()
    tx = _propose_issue(client, amount=5_000_000)
    _sign(tx, 1)
    _sign(tx, 3)
    relayer_nonce, safe_nonce = client.account_nonce(relayer_account().address), client.safe_nonce(d.issuance_multisig)
    supply = client.token_total_supply(d.token)

    # Even handed straight to the worker, a transaction below threshold is not sent.
    result = multisig_transaction_broadcast_task.apply_async((tx.pk,), ignore_result=False)
    assert result.get(timeout=30) == TxState.AWAITING_SIGNATURES

    tx.refresh_from_db()
    assert (tx.state, tx.relayer_tx_hash, tx.relayer_raw_tx) == (TxState.AWAITING_SIGNATURES, "", None)
    assert client.account_nonce(relayer_account().address) == relayer_nonce
    assert client.safe_nonce(d.issuance_multisig) == safe_nonce
    assert client.token_total_supply(d.token) == supply
