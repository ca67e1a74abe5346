"""The development wallet: on only with DEBUG against a local chain, and only for the user's own address."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.safetx import signature_recover
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import Confirmation, MultisigRole, MultisigTransaction
from backoffice.multisig.services import multisig_transaction_propose, safe_tx_of

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

OWNER1, OWNER2 = dev_account(OWNER_INDEXES[0]).address, dev_account(OWNER_INDEXES[1]).address
SCRIPT_TAG = '<script src="/multisig/dev-wallet.js"></script>'
RPC = "/multisig/dev-wallet/rpc"


@pytest.fixture
def dev_mode(settings, chain):
    settings.DEBUG = True
    settings.CHAIN_IS_LOCAL = True
    return settings


@pytest.fixture
def tx(chain) -> MultisigTransaction:
    client, d = chain_client(), deployment_get()
    return multisig_transaction_propose(
        client=client, multisig=MultisigRole.ISSUANCE, to=d.token,
        data=client.token_calldata("issue", dev_account(18).address, 7_000_000),
        decoded={"function": "issue", "to": dev_account(18).address, "amount": "7000000", "tokens": "7.000000"},
        actor=get_user_model().objects.get(username="operator"),
    )


def _client(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _rpc(client: Client, method: str, params: list | None = None):
    return client.post(RPC, {"jsonrpc": "2.0", "id": 7, "method": method, "params": params or []},
                       content_type="application/json")


def _typed(tx: MultisigTransaction) -> str:
    return json.dumps(safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address))


def test_with_debug_on_a_local_chain_the_wallet_is_served_and_signs_for_the_users_own_address(dev_mode, tx):
    owner = _client("owner1")
    script = owner.get("/multisig/dev-wallet.js")
    assert script.status_code == 200 and script["Content-Type"].startswith("text/javascript")
    assert "if (window.ethereum) { return; }" in script.content.decode()  # MetaMask, when present, wins
    assert SCRIPT_TAG in owner.get(f"/multisig/{tx.pk}/").content.decode()

    assert _rpc(owner, "eth_requestAccounts").json()["result"] == [OWNER1]
    assert _rpc(owner, "eth_accounts").json()["result"] == [OWNER1]
    assert _rpc(owner, "eth_chainId").json()["result"] == hex(31337)
    signed = _rpc(owner, "eth_signTypedData_v4", [OWNER1, _typed(tx)])
    assert signed.status_code == 200, signed.content
    signature = signed.json()["result"]
    assert signature_recover(digest=bytes.fromhex(tx.safe_tx_hash[2:]), signature=signature) == OWNER1

    # What the node signed is what the multisig accepts.
    accepted = owner.post(f"/api/multisig/transactions/{tx.pk}/signatures/", {"signature": signature},
                          content_type="application/json")
    assert accepted.status_code == 201, accepted.content
    assert Confirmation.objects.get(transaction=tx).owner_address == OWNER1


def _assert_off(tx: MultisigTransaction) -> None:
    owner = _client("owner1")
    assert owner.get("/multisig/dev-wallet.js").status_code == 404
    assert _rpc(owner, "eth_requestAccounts").status_code == 404
    assert _rpc(owner, "eth_signTypedData_v4", [OWNER1, _typed(tx)]).status_code == 404
    page = owner.get(f"/multisig/{tx.pk}/").content.decode()
    assert "dev-wallet" not in page and 'id="sign-button"' in page  # the page itself works, with a real wallet


def test_with_debug_off_the_wallet_does_not_exist(dev_mode, tx):
    dev_mode.DEBUG = False
    _assert_off(tx)


def test_against_a_chain_that_is_not_local_the_wallet_does_not_exist(dev_mode, tx):
    dev_mode.CHAIN_IS_LOCAL = False
    _assert_off(tx)


def test_a_node_serving_another_chain_id_turns_the_wallet_off(dev_mode, tx):
    dev_mode.CHAIN_ID = 1  # the node still answers 31337: the client refuses the mismatch
    owner = _client("owner1")
    assert owner.get("/multisig/dev-wallet.js").status_code == 404
    assert _rpc(owner, "eth_requestAccounts").status_code == 404


def test_it_refuses_to_sign_for_an_address_that_is_not_the_users_own(dev_mode, tx):
    owner = _client("owner1")
    for address in (OWNER2, OWNER2.lower(), dev_account(0).address):
        response = _rpc(owner, "eth_signTypedData_v4", [address, _typed(tx)])
        assert response.status_code == 403
        body = response.json()
        assert "result" not in body and body["error"]["code"] == 4100
        assert body["error"]["message"] == f"owner1 may sign only with their own address {OWNER1}, not {address}"
    # A user without a signing address signs for nobody.
    operator = _client("operator")
    assert _rpc(operator, "eth_requestAccounts").status_code == 403
    assert _rpc(operator, "eth_accounts").json()["result"] == []
    assert _rpc(operator, "eth_signTypedData_v4", [OWNER1, _typed(tx)]).status_code == 403
    assert not Confirmation.objects.filter(transaction=tx).exists()


def test_it_answers_only_what_the_signing_page_needs(dev_mode, tx):
    owner = _client("owner1")
    nonce = chain_client().account_nonce(OWNER1)
    send = _rpc(owner, "eth_sendTransaction", [{"from": OWNER1, "to": OWNER2, "value": "0x1"}])
    assert send.status_code == 403 and "only to the USDKG multisig you sign for" in send.json()["error"]["message"]
    unknown = _rpc(owner, "eth_sign", [OWNER1, "0x00"])
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == 4200
    assert chain_client().account_nonce(OWNER1) == nonce  # nothing reached the node

    permit = {"types": {"EIP712Domain": [], "Permit": []}, "primaryType": "Permit", "domain": {}, "message": {}}
    other = _rpc(owner, "eth_signTypedData_v4", [OWNER1, json.dumps(permit)])
    assert other.status_code == 400 and "SafeTx" in other.json()["error"]["message"]


def test_it_needs_a_signed_in_user_and_the_csrf_token(dev_mode, tx):
    assert _rpc(Client(), "eth_requestAccounts").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(get_user_model().objects.get(username="owner1"))
    assert _rpc(strict, "eth_signTypedData_v4", [OWNER1, _typed(tx)]).status_code == 403
