"""The chain client on a real anvil: one per process and settings, the chain id asked once, contract
objects built once, owners and threshold kept per block, and the node requests it makes counted."""

import os
import secrets

import pytest
from django.test import override_settings
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from backoffice.chain.client import ChainClient, ChainError, ChainIdMismatch, chain_client
from backoffice.chain.safetx import SafeTx, signatures_pack
from backoffice.chain.selectors import deployment_get
from backoffice.chain.services import _safe_create

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _funded_account() -> LocalAccount:
    """A key of its own, so no other test's transactions compete for its nonces."""
    account: LocalAccount = Account.create()
    chain_client().w3.provider.make_request("anvil_setBalance", [account.address, hex(10**18)])  # type: ignore[arg-type]
    return account


def _safe_of_one(owner: LocalAccount) -> str:
    """A fresh 1-of-1 Safe, from the session's Safe factory."""
    d = deployment_get()
    return _safe_create(chain_client(), account=owner, factory=d.safe_proxy_factory, singleton=d.safe_singleton,
                        handler=d.safe_fallback_handler, owners=[owner.address], threshold=1,
                        salt=secrets.randbits(64))


def _safe_exec(safe: str, owner: LocalAccount, function: str, *args: object) -> None:
    """`owner`, the Safe's only owner, has the Safe call one of its own owner-management functions."""
    client = chain_client()
    data = bytes.fromhex(client.contract("SafeL2", safe).encode_abi(function, args=list(args))[2:])
    tx = SafeTx(to=safe, value=0, data=data, operation=0, nonce=client.safe_nonce(safe))
    signature = Account.sign_typed_data(owner.key, full_message=tx.typed_data(chain_id=client.chain_id,
                                                                                 safe_address=safe)).signature
    call = client.exec_transaction_data(safe=safe, tx=tx, signatures=signatures_pack({owner.address: signature}))
    client.transact(account=owner, tx={"to": safe, "data": call})


def test_chain_client_is_one_per_process_and_settings(chain):
    client = chain_client()
    assert chain_client() is client
    with override_settings(CHAIN_RPC_URL="http://127.0.0.1:9"):
        elsewhere = chain_client()
        assert elsewhere is not client and elsewhere.rpc_url == "http://127.0.0.1:9"
    with override_settings(CHAIN_RPC_TIMEOUT=3):
        assert chain_client() is not client
    with override_settings(CHAIN_ID=1):
        assert chain_client().chain_id == 1
    assert chain_client() is client


def test_a_forked_process_builds_its_own_client(chain):
    """A Celery prefork child must not share its parent's pooled connections."""
    parent = chain_client()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe and leave without running anything of pytest's
        try:
            child = chain_client()
            ok = child is not parent and child is chain_client() and child.block_number() >= 0
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    assert chain_client() is parent


def test_the_chain_id_is_asked_once_and_reads_never_ask_it(chain):
    client = ChainClient(rpc_url=chain.node.url, chain_id=chain.node.chain_id)
    d, sender = deployment_get(), _funded_account()
    with client.request_count() as counted:
        client.safe_owners(d.issuance_multisig)
        client.token_total_supply(d.token)
        client.transaction_sign(account=sender, tx={"to": sender.address, "value": 0})
        client.transact(account=sender, tx={"to": sender.address, "value": 0})
        client.safe_threshold(d.issuance_multisig)
    assert counted.methods.count("eth_chainId") == 1
    assert counted.methods.index("eth_chainId") == 2  # before the first write, not before the reads


def test_a_node_of_another_chain_is_refused_every_time_and_nothing_is_sent(chain):
    client, sender = ChainClient(rpc_url=chain.node.url, chain_id=1), _funded_account()
    nonce = chain_client().account_nonce(sender.address)
    signed = chain_client().transaction_sign(account=sender, tx={"to": sender.address, "value": 0})
    for _ in range(2):
        with client.request_count() as counted, pytest.raises(ChainIdMismatch, match="serves chain id 31337"):
            client.transaction_sign(account=sender, tx={"to": sender.address, "value": 0})
        assert counted.methods == ["eth_chainId"]
        with pytest.raises(ChainIdMismatch):
            client.raw_send(signed.raw)
    assert chain_client().account_nonce(sender.address) == nonce


def test_a_transaction_that_would_revert_is_refused_with_the_reason(chain):
    client, sender = chain_client(), _funded_account()
    # Anyone calling the token's issue() is refused: only its owner, the issuance multisig, may.
    data = client.token_calldata("issue", sender.address, 1)
    with pytest.raises(ChainError, match="the transaction would fail"):
        client.transaction_sign(account=sender, tx={"to": deployment_get().token, "data": data})


def test_signing_asks_the_node_once_for_nonce_gas_and_fees(chain):
    client, sender = chain_client(), _funded_account()
    client.chain_id_check()
    with client.request_count() as counted:
        signed = client.transaction_sign(account=sender, tx={"to": sender.address, "value": 0})
    assert (counted.round_trips, sorted(counted.methods)) == (1, [
        "eth_estimateGas", "eth_getBlockByNumber", "eth_getTransactionCount", "eth_maxPriorityFeePerGas"])
    assert signed.nonce == client.account_nonce(sender.address)
    with client.request_count() as counted:
        assert client.transaction_sign(account=sender, tx={"to": sender.address, "value": 0},
                                       nonce_floor=signed.nonce + 3).nonce == signed.nonce + 3
    assert counted.round_trips == 1


def test_contract_objects_are_built_once_per_abi_and_address(chain):
    client, d = chain_client(), deployment_get()
    safe = client.contract("SafeL2", d.issuance_multisig)
    assert client.contract("SafeL2", d.issuance_multisig) is safe
    assert client.contract("SafeL2", d.compliance_multisig) is not safe
    assert client.contract("USDKG", d.token) is client.contract("USDKG", d.token)
    assert client.token_calldata("pause") == client.token_calldata("pause")
    assert client.token_call_decode(client.token_calldata("issue", d.token, 5)) == ("issue", {"to": d.token,
                                                                                              "amount": 5})


def test_owners_are_read_fresh_and_kept_per_block(chain):
    client, first, second = chain_client(), _funded_account(), Account.create()
    safe = _safe_of_one(first)
    block = client.block_number()
    with client.request_count() as counted:
        assert client.safe_config(safe, block=block) == ([first.address], 1)
        assert client.safe_owners(safe, block=block) == [first.address]
        assert client.safe_threshold(safe, block=block) == 1
    assert (counted.round_trips, counted.methods) == (1, ["eth_call", "eth_call"])  # one batch, then kept

    _safe_exec(safe, first, "addOwnerWithThreshold", second.address, 1)
    _safe_exec(safe, first, "removeOwner", second.address, first.address, 1)  # `first` is no owner now
    head = client.block_number()
    assert head > block
    assert client.safe_owners(safe) == [second.address]  # not pinned: always the node's latest
    assert client.safe_owners(safe, block=head) == [second.address]  # a new block asks again
    assert client.safe_owners(safe, block=block) == [first.address]  # what was true at that block stays
    with client.request_count() as counted:
        assert first.address not in client.safe_owners(safe)
    assert counted.methods == ["eth_call"]  # the owner check: one eth_call, no chain id, no block number


def test_request_count_counts_requests_and_round_trips(chain):
    client, d = chain_client(), deployment_get()
    before = (client.requests_made, client.round_trips)
    with client.request_count() as counted:
        client.safe_nonce_threshold(d.issuance_multisig)  # a batch of two
        client.block_number()
    assert (counted.requests, counted.round_trips) == (3, 2)
    assert counted.methods == ["eth_call", "eth_call", "eth_blockNumber"]
    assert (client.requests_made, client.round_trips) == (before[0] + 3, before[1] + 2)


def test_a_view_answers_refusals_as_web3_does(chain):
    client = chain_client()
    with pytest.raises(BadFunctionCallOutput):  # no code there: an empty answer
        client.token_total_supply(Account.create().address)
    with pytest.raises(ContractLogicError):  # the token has no nonce(): it reverts
        client.safe_nonce(deployment_get().token)
