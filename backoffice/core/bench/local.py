"""The rows measured inside this process: signature recovery and acceptance, the owner check, a broadcast's
node requests (the journal's and the bar list's rows live in those apps' own `bench` modules). Each runs
the product's path and its physical floor in the same run (interleaved, median).

Each floor is the least any implementation must do for the same result, written with the bare parts
(coincurve, one JSON-RPC POST on a plain requests.Session, one SQL statement on the same connection), so a
ratio says how much the product adds on top and never flatters it.
"""

from __future__ import annotations

import json
import statistics
import time

import coincurve
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import override_settings
from eth_account import Account
from eth_utils import keccak

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.safetx import SafeTx, signature_recover
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import Confirmation, MultisigRole, MultisigTransaction, TxState
from backoffice.multisig.services import (
    confirmation_add,
    multisig_transaction_broadcast,
    multisig_transaction_follow,
    multisig_transaction_propose,
    safe_tx_of,
)

from . import Row, bench_rows, count_row, interleaved, time_row
from .environment import BenchEnv, RpcCounter, queue_private

GET_OWNERS = "0x" + keccak(text="getOwners()")[:4].hex()
RECIPIENT = dev_account(15).address


# --- floors --------------------------------------------------------------------------------------

def _recover_raw(digest: bytes, signature: bytes) -> bytes:
    """The floor of recovery: coincurve's public key from (r, s, recovery id), keccak, last 20 bytes."""
    rsv = signature[:64] + bytes([signature[64] - 27])
    public = coincurve.PublicKey.from_signature_and_message(rsv, digest, hasher=None)
    return keccak(public.format(compressed=False)[1:])[-20:]


class RawOwners:
    """The floor of an owner check: one eth_call of getOwners() POSTed on a kept-alive session, the
    answer's words cut into addresses (lower-case hex, no checksum)."""

    def __init__(self, rpc_url: str, safe: str) -> None:
        self.url, self.session = rpc_url, requests.Session()
        self.body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                                "params": [{"to": safe, "data": GET_OWNERS}, "latest"]})

    def __call__(self) -> list[str]:
        answer = self.session.post(self.url, data=self.body, headers={"Content-Type": "application/json"},
                                   timeout=10).json()["result"][2:]
        count = int(answer[64:128], 16)
        return ["0x" + answer[128 + 64 * i + 24:128 + 64 * (i + 1)] for i in range(count)]


def _scratch_tables() -> None:
    """The table the floors write to: one bare row of a signature's size."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, payload bytea NOT NULL)")


def _insert_committed(payload: bytes) -> None:
    """The floor of a durable write: one INSERT in its own transaction, committed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_floor (payload) VALUES (%s)", [payload])


# --- signatures, the owner check, a broadcast -------------------------------------------------------

def _owner_signature(tx: MultisigTransaction, owner_number: int) -> bytes:
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    return bytes(Account.sign_typed_data(dev_account(OWNER_INDEXES[owner_number - 1]).key,
                                         full_message=typed).signature)


def _issue_propose(operator: User, amount: int = 1_000_000) -> MultisigTransaction:
    """An issue of one USDKG, as the demo operator proposes it (the demo's audited gold backs it)."""
    client = chain_client()
    return multisig_transaction_propose(
        client=client, multisig=MultisigRole.ISSUANCE, to=deployment_get().token,
        data=client.token_calldata("issue", RECIPIENT, amount),
        decoded={"function": "issue", "to": RECIPIENT, "amount": str(amount)}, actor=operator)


@bench_rows("local")
def signature_rows(env: BenchEnv) -> list[Row]:
    d = deployment_get()
    safe = d.multisig(MultisigRole.ISSUANCE).address
    tx = SafeTx(to=d.token, value=0, data=chain_client().token_calldata("issue", RECIPIENT, 1), operation=0, nonce=3)
    digest = tx.safe_tx_hash(chain_id=env.chain_id, safe_address=safe)
    signature = bytes(Account.sign_typed_data(dev_account(OWNER_INDEXES[0]).key,
                                              full_message=tx.typed_data(chain_id=env.chain_id, safe_address=safe))
                      .signature)
    if signature_recover(digest=digest, signature=signature).lower() != "0x" + _recover_raw(digest, signature).hex():
        raise RuntimeError("the floor recovers another address than the product")
    product, floor = interleaved(lambda: signature_recover(digest=digest, signature=signature),
                                 lambda: _recover_raw(digest, signature),
                                 rounds=env.size(21, 5), number=env.size(200, 20), clock=time.thread_time)
    # 1.5x: the product must also refuse a malleable or malformed signature (range checks on r, s, v) and
    # answer a checksummed address (a second keccak over the hex); eth_keys' objects around coincurve
    # cost a few microseconds. Past 1.5x something heavier has crept in (a second recovery, a backend
    # other than coincurve).
    return [time_row("signature recovery", product_s=product, floor_s=floor, max_ratio=1.5,
                     floor_name="coincurve recovery + keccak")]


@bench_rows("local")
def multisig_rows(env: BenchEnv) -> list[Row]:
    """A broadcast's node requests, then the owner check and the acceptance of one signature. The broadcast
    goes first: it must take the multisig's next nonce, before the proposals the acceptance row signs."""
    _scratch_tables()
    users = get_user_model().objects
    operator, owner = users.get(username="operator"), users.get(username="owner1")
    safe = deployment_get().multisig(MultisigRole.ISSUANCE).address
    with queue_private(env):
        rows = [_broadcast_row(env, operator), _owner_check_row(env, safe, owner)]
        rows.append(_acceptance_row(env, operator, owner, safe))
    return rows


def _broadcast_row(env: BenchEnv, operator: User) -> Row:
    """Node requests one broadcast makes (an issue, its collateral guard included), counted by a proxy in
    front of anvil; each broadcast is then followed to `executed` so the next one takes the next nonce."""
    counts: list[int] = []
    calls: dict[str, int] = {}
    with RpcCounter(env.rpc_url) as counter:
        for _ in range(env.size(3, 1)):
            tx = _issue_propose(operator)
            with transaction.atomic():  # the threshold's broadcast task is sent once, at commit, to nobody
                for n in (2, 3, 4):
                    confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=_owner_signature(tx, n),
                                     actor=get_user_model().objects.get(username=f"owner{n}"))
            counter.reset()
            with override_settings(CHAIN_RPC_URL=counter.url):
                sent = multisig_transaction_broadcast(client=chain_client(), transaction_id=tx.pk)
            if counter.requests == 0:
                raise RuntimeError("the chain client did not go through the counting proxy: chain_client() "
                                   "must follow settings.CHAIN_RPC_URL")
            if sent.state not in (TxState.SUBMITTED, TxState.EXECUTED):
                raise RuntimeError(f"the bench's issue was not sent: {sent.state} {sent.failure_reason}")
            counts.append(counter.requests)
            calls = dict(counter.calls)
            deadline = time.monotonic() + 30
            while multisig_transaction_follow(client=chain_client(), transaction_id=tx.pk,
                                              confirmations=1).state != TxState.EXECUTED:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bench's issue #{tx.pk} was not executed")
                time.sleep(0.05)
    per_method = ", ".join(f"{m} {n}" for m, n in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])))
    # The floor: what any relayer must ask the node, one request each: the multisig's nonce, its own nonce,
    # a gas estimate (the simulation), the fee, the send. The issue's guard reads the supply on top.
    return count_row("node requests per broadcast", product=statistics.median(counts), limit=6, floor=5,
                     floor_name="nonces, estimate, fee, send", note=per_method, counts=counts, calls=calls)


def _owner_check_row(env: BenchEnv, safe: str, owner: User) -> Row:
    """The on-chain owner check inside the acceptance: a client as the API view gets one, then
    safe_owners() (node requests counted apart, through the proxy, untimed)."""
    address = owner.signer.address
    raw = RawOwners(env.rpc_url, safe)
    if address.lower() not in raw() or address not in chain_client().safe_owners(safe):
        raise RuntimeError(f"{address} is not an owner of {safe}, by the floor or by the product")
    product, floor = interleaved(lambda: address in chain_client().safe_owners(safe), lambda: address.lower() in raw(),
                                 rounds=env.size(15, 5), number=env.size(40, 5))
    with RpcCounter(env.rpc_url) as counter, override_settings(CHAIN_RPC_URL=counter.url):
        for _ in range(3):
            chain_client().safe_owners(safe)
    requests_each = counter.requests / 3
    return time_row("owner check (getOwners)", product_s=product, floor_s=floor, max_ratio=2,
                    floor_name="one raw eth_call", note=f"{requests_each:g} node requests each",
                    node_requests=requests_each, calls=dict(counter.calls))


def _acceptance_row(env: BenchEnv, operator: User, owner: User, safe: str) -> Row:
    """confirmation_add on proposals that each await their first signature, so every timed call does the
    whole work and commits (the threshold is never reached: nothing else is scheduled)."""
    rounds, number = 7, env.size(10, 2)
    proposals = [_issue_propose(operator) for _ in range(1 + rounds * number)]  # warm-up + timed
    pending = iter([(tx.pk, _owner_signature(tx, 1)) for tx in proposals])
    digest = bytes.fromhex(proposals[0].safe_tx_hash[2:])
    signature = _owner_signature(proposals[0], 1)
    raw = RawOwners(env.rpc_url, safe)
    address = owner.signer.address.lower()

    def product() -> None:
        tx_id, sig = next(pending)
        confirmation_add(client=chain_client(), transaction_id=tx_id, signature=sig, actor=owner)

    def floor() -> None:
        if "0x" + _recover_raw(digest, signature).hex() != address or address not in raw():
            raise RuntimeError("the floor's owner check failed")
        _insert_committed(signature)

    try:
        product_s, floor_s = interleaved(product, floor, rounds=rounds, number=number)
        accepted = Confirmation.objects.filter(transaction__in=proposals).count()
        if accepted != len(proposals):
            raise RuntimeError(f"{accepted} of {len(proposals)} signatures were accepted")
    finally:
        # The bench's database only: proposals left awaiting signatures would hold the multisig's next
        # nonces, and the follow rows' proposals would wait behind them for ever.
        Confirmation.objects.filter(transaction__in=proposals).delete()
        MultisigTransaction.objects.filter(pk__in=[tx.pk for tx in proposals]).delete()
    return time_row("signature acceptance (service)", product_s=product_s, floor_s=floor_s, max_ratio=3,
                    unit="ms", floor_name="recovery + eth_call + 1 DB tx")
