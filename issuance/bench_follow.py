"""`make bench`: last approval -> `executed` in the database, against the receipt's own time.

The product's path: an operator's issue proposal on the Safe-kind issuance multisig, signed off-chain by
the owners through the service; the signature that reaches the threshold commits, the real Celery worker
(a subprocess consuming a queue of this run's own) broadcasts through the relayer and its follower marks
the transaction executed. Timed from the moment that last `confirmation_add` returns (its commit and the
broadcast message are behind it) to the moment the database says `executed`, polled every 10 ms.

The floor is the receipt's own time, in the same runs: from the same moment to the moment the node first
answers the relayer's transaction with a receipt (asked every 10 ms beside the database). Nothing can
know of an execution before its receipt exists; what the product adds past it is how soon the follower
learns of it and writes it down. That is the ratio the target bounds (2x, as issue 13 asks).

Reported beside it, interleaved with the product's runs on the same node: what a bare executor holding
the same owner signatures must do for the same outcome, and nothing else: simulate (eth_estimateGas:
the product refuses to send a call that would fail), sign locally, eth_sendRawTransaction, then
eth_getTransactionReceipt every 10 ms until the receipt is there. Plain JSON-RPC over one kept-alive
session, from an account of its own (the relayer's nonces stay the product's).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backoffice.core.bench import Row, bench_rows, process_stop, time_row

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from eth_account.signers.local import LocalAccount

    from backoffice.core.bench.environment import BenchEnv
    from backoffice.multisig.models import MultisigTransaction

ROOT = Path(__file__).resolve().parents[1]
PROPOSALS = 20
POLL_SECONDS = 0.010
TIMEOUT_SECONDS = 60.0
MAX_RATIO = 2.0
# Each issue is one token: the demo reserve backs millions, so the headroom never refuses one.
ISSUE_TOKENS = "1"
WORKER_CONCURRENCY = 2  # Procfile's (production's Procfile.production says CELERY_CONCURRENCY, default 4)

_EXEC_TRANSACTION = ("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)",
                     ["address", "uint256", "bytes", "uint8", "uint256", "uint256", "uint256", "address", "address",
                      "bytes"])


@dataclass(frozen=True)
class Timing:
    """One product run: seconds from acceptance to `executed` in the database, and where they went."""

    total: float
    to_sent: float  # acceptance -> the broadcaster's claim (sent_at, written just before it sends)
    sent_to_executed: float  # sent_at -> executed_at (the follower's settle)
    receipt: float  # acceptance -> the node first answers the relayer's transaction with a receipt


@dataclass(frozen=True)
class FloorTiming:
    total: float  # estimateGas + sign + send + receipt
    send_to_receipt: float


@bench_rows("follow")
def rows(env: BenchEnv, *, proposals: int | None = None) -> list[Row]:
    """The row: p50 of the product against p50 of the floor (target: within 2x), p95s in the note."""
    proposals = proposals or env.size(PROPOSALS, 3)
    env.progress(f"follow: {proposals} proposals through a Celery worker, each followed by the floor's execution")
    product, floor = follow_measure(env, proposals=proposals)
    totals = [t.total for t in product]
    on_chain = [t.receipt for t in product]
    floors = [f.total for f in floor]
    receipts = [f.send_to_receipt for f in floor]
    note = (f"{proposals} proposals, p95 {_p95(totals) * 1e3:.0f} ms vs receipt p95 {_p95(on_chain) * 1e3:.0f} ms; "
            f"bare executor p50 {statistics.median(floors) * 1e3:.1f} ms; worker concurrency "
            f"{WORKER_CONCURRENCY}, anvil automine")
    return [time_row(
        "last approval -> executed (p50)", product_s=statistics.median(totals), floor_s=statistics.median(on_chain),
        max_ratio=MAX_RATIO, unit="ms", floor_name="last approval -> receipt on chain (10 ms polls)",
        note=note,
        product_p50_ms=statistics.median(totals) * 1e3, product_p95_ms=_p95(totals) * 1e3,
        receipt_p50_ms=statistics.median(on_chain) * 1e3, receipt_p95_ms=_p95(on_chain) * 1e3,
        bare_executor_p50_ms=statistics.median(floors) * 1e3, bare_executor_p95_ms=_p95(floors) * 1e3,
        send_to_receipt_p50_ms=statistics.median(receipts) * 1e3, send_to_receipt_p95_ms=_p95(receipts) * 1e3,
        accepted_to_sent_p50_ms=statistics.median(t.to_sent for t in product) * 1e3,
        sent_to_executed_p50_ms=statistics.median(t.sent_to_executed for t in product) * 1e3,
        product_ms=[round(t * 1e3, 2) for t in totals], floor_ms=[round(t * 1e3, 2) for t in floors],
    )]


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def follow_measure(env: BenchEnv, *, proposals: int) -> tuple[list[Timing], list[FloorTiming]]:
    """`proposals` product runs and as many floor runs, alternating, after one unmeasured run of each."""
    executor = BareExecutor(rpc_url=env.rpc_url, chain_id=env.chain_id)
    product: list[Timing] = []
    floor: list[FloorTiming] = []
    with _worker_running(env) as worker:
        for i in range(proposals + 1):
            timing = _product_once(worker, executor)
            floor_timing = executor.issue_once()
            if i:  # the first of each warms imports, connections and the worker's pool
                product.append(timing)
                floor.append(floor_timing)
    return product, floor


# --- the product's path ---------------------------------------------------------------------

def _user(username: str) -> User:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def issue_proposed() -> MultisigTransaction:
    """An issue of one token, drafted and proposed by the demo operator through the services, backed by every
    audited deposit; its multisig transaction awaits the owners' signatures."""
    from backoffice.chain.client import chain_client
    from backoffice.chain.devkeys import dev_account
    from issuance import services
    from issuance.models import Deposit, DepositState

    client = chain_client()
    operator = _user("operator")
    deposits = list(Deposit.objects.filter(state=DepositState.AUDITED).order_by("pk").values_list("pk", flat=True))
    if not deposits:
        raise RuntimeError("bench: no audited deposit backs an issue: the bench database needs the demo gold "
                           "(issuance.demo.demo_gold_seed)")
    proposal = services.proposal_draft(client=client, kind="issue", actor=operator, memo="bench",
                                       amount=ISSUE_TOKENS, recipient=dev_account(18).address, deposit_ids=deposits)
    proposal = services.proposal_propose(client=client, proposal_id=proposal.pk, actor=operator)
    tx = proposal.transaction
    if tx is None:
        raise RuntimeError(f"bench: proposal {proposal.pk} was proposed without a multisig transaction")
    return tx


def owner_signature(tx: MultisigTransaction, owner_number: int) -> bytes:
    """Owner N's EIP-712 signature over `tx`, made from the typed data a wallet is served."""
    from eth_account import Account

    from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
    from backoffice.multisig.services import safe_tx_of

    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    return bytes(Account.sign_typed_data(dev_account(OWNER_INDEXES[owner_number - 1]).key,
                                         full_message=typed).signature)


def owner_sign(tx: MultisigTransaction, owner_number: int) -> None:
    """Owner N's signature accepted by the service, as the demo user bound to that owner's key."""
    from backoffice.chain.client import chain_client
    from backoffice.multisig.services import confirmation_add

    confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=owner_signature(tx, owner_number),
                     actor=_user(f"owner{owner_number}"))


def offchain_multisig_require(tx: MultisigTransaction) -> None:
    from backoffice.multisig.kinds import kind_of, multisig_of

    if not kind_of(multisig_of(tx)).signs_off_chain:
        raise RuntimeError("bench: the issuance multisig takes no off-chain signatures: deploy the Safe kind "
                           "(deploy_chain --multisig-kind safe) for this row")


def _product_once(worker: Worker, executor: BareExecutor) -> Timing:
    from backoffice.multisig.models import MultisigTransaction, TxState

    tx = issue_proposed()
    offchain_multisig_require(tx)
    for n in range(1, tx.threshold):
        owner_sign(tx, n)
    # Owners sign minutes apart, not milliseconds: the mails the proposal and the first signatures sent are
    # long delivered when the last signature comes. Only the work that signature sends is timed.
    worker.idle_wait()
    owner_sign(tx, tx.threshold)  # reaches the threshold: commits, then hands the transaction to the worker
    accepted, accepted_wall = time.perf_counter(), time.time()
    deadline = accepted + TIMEOUT_SECONDS
    rows = MultisigTransaction.objects.filter(pk=tx.pk)
    receipt_at: float | None = None
    while True:
        state, tx_hash = rows.values_list("state", "relayer_tx_hash").get()
        now = time.perf_counter()
        if receipt_at is None and tx_hash and executor.receipt_get(tx_hash) is not None:
            receipt_at = time.perf_counter()
        if state == TxState.EXECUTED:
            break
        if state in (TxState.FAILED, TxState.CANCELLED) or now > deadline:
            failure = rows.values_list("failure_reason", flat=True).get()
            raise RuntimeError(f"bench: multisig transaction {tx.pk} is {state} after {now - accepted:.1f} s "
                               f"(expected executed): {failure}")
        time.sleep(POLL_SECONDS)
    settled = rows.get()
    sent = settled.sent_at.timestamp() if settled.sent_at else accepted_wall
    executed = settled.executed_at.timestamp() if settled.executed_at else sent
    # Executed before this loop saw the receipt (both within one poll): the receipt was there no later.
    receipt = (receipt_at if receipt_at is not None else now) - accepted
    return Timing(total=now - accepted, to_sent=sent - accepted_wall, sent_to_executed=executed - sent,
                  receipt=min(receipt, now - accepted))


@dataclass(frozen=True)
class Worker:
    name: str
    queue: str
    process: subprocess.Popen[bytes]

    def idle_wait(self, timeout: float = TIMEOUT_SECONDS) -> None:
        """Until the queue is empty and the worker runs and holds nothing (untimed: between runs)."""
        from backoffice.celery import app

        deadline = time.monotonic() + timeout
        inspect = app.control.inspect(destination=[self.name], timeout=1)
        while True:
            with app.connection_for_write() as connection:
                waiting = connection.default_channel.queue_declare(self.queue).message_count
            if not waiting:
                held = [*(inspect.active() or {}).get(self.name, []), *(inspect.reserved() or {}).get(self.name, [])]
                if not held:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"bench: the worker is still busy after {timeout:.0f} s ({waiting} queued)")
            time.sleep(0.05)


@contextmanager
def _worker_running(env: BenchEnv) -> Iterator[Worker]:
    """A real Celery worker subprocess on the bench's broker, consuming a queue of this run's own (a worker
    of `make run` on the same broker can never take its tasks); this process sends to that queue meanwhile."""
    from backoffice.celery import app

    queue = f"bench-follow-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    name = f"{queue}@localhost"
    log_path = Path(env.var_dir) / "bench-follow-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    before = app.conf.task_default_queue
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own venv's celery, fixed arguments
            [str(Path(sys.executable).with_name("celery")), "-A", "backoffice", "worker", "--loglevel=INFO",
             "-n", name, "-Q", queue, f"--concurrency={WORKER_CONCURRENCY}", "--without-gossip",
             "--without-mingle"],
            cwd=ROOT, env={**env.env, "CELERY_TASK_DEFAULT_QUEUE": queue}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        app.conf.task_default_queue = queue
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(destination=[name], timeout=0.5):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"bench: the Celery worker did not start:\n{log_path.read_text()[-3000:]}")
            yield Worker(name=name, queue=queue, process=process)
        finally:
            app.conf.task_default_queue = before
            process_stop(process, group=True)
            queue_delete(queue)


def queue_delete(queue: str) -> None:
    """A queue of this run's own, its messages and its binding gone from the broker. Declared on this
    connection first: kombu's virtual transports (Redis) delete only the bindings the channel itself knows,
    so a bare queue_delete from a fresh connection would leave every message in place."""
    from kombu import Exchange, Queue

    from backoffice.celery import app

    with app.connection_for_write() as connection:
        bound = Queue(queue, Exchange(queue), routing_key=queue)(connection.default_channel)
        bound.declare()
        bound.delete()


# --- the floor --------------------------------------------------------------------------------

class BareExecutor:
    """The same execTransaction a relayer sends, by a client that does nothing else: plain JSON-RPC, one
    kept-alive HTTP session, an account of its own funded on anvil."""

    def __init__(self, *, rpc_url: str, chain_id: int) -> None:
        import requests
        from eth_account import Account

        self.rpc_url, self.chain_id = rpc_url, chain_id
        self.session = requests.Session()
        self.account: LocalAccount = Account.create()
        self._rpc("anvil_setBalance", self.account.address, hex(10**21))
        self.nonce = 0

    def _rpc(self, method: str, *params: Any) -> Any:
        answer = self.session.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                       "params": list(params)}, timeout=10).json()
        if "error" in answer:
            raise RuntimeError(f"bench: the node refused {method}: {answer['error']}")
        return answer["result"]

    def receipt_get(self, tx_hash: str) -> dict[str, Any] | None:
        """The node's receipt of `tx_hash`, None while it has none (one plain JSON-RPC request)."""
        receipt: dict[str, Any] | None = self._rpc("eth_getTransactionReceipt", tx_hash)
        return receipt

    def exec_call(self) -> tuple[str, bytes]:
        """(multisig, execTransaction calldata) of a one-token issue at the multisig's next nonce, signed by as
        many owners as its threshold (the same call, the same gas, as the product's)."""
        from eth_abi import encode
        from eth_account import Account
        from eth_utils import keccak

        from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
        from backoffice.chain.safetx import SafeTx, signatures_pack
        from backoffice.chain.selectors import deployment_get
        from backoffice.core.amounts import amount_parse
        from backoffice.multisig.models import MultisigRole

        deployment = deployment_get()
        safe = deployment.multisig(MultisigRole.ISSUANCE).address
        nonce = int(self._rpc("eth_call", {"to": safe, "data": "0x" + keccak(text="nonce()")[:4].hex()}, "latest"),
                    16)
        threshold = int(self._rpc("eth_call", {"to": safe, "data": "0x" + keccak(text="getThreshold()")[:4].hex()},
                                  "latest"), 16)
        issue = keccak(text="issue(address,uint256)")[:4] + encode(
            ["address", "uint256"], [dev_account(18).address, amount_parse(ISSUE_TOKENS)])
        safe_tx = SafeTx(to=deployment.token, value=0, data=issue, operation=0, nonce=nonce)
        typed = safe_tx.typed_data(chain_id=self.chain_id, safe_address=safe)
        owners = [dev_account(i) for i in OWNER_INDEXES[:threshold]]
        signatures = signatures_pack({o.address: bytes(Account.sign_typed_data(o.key, full_message=typed).signature)
                                      for o in owners})
        zero = "0x" + "00" * 20
        signature, types = _EXEC_TRANSACTION
        data = keccak(text=signature)[:4] + encode(types, [safe_tx.to, 0, safe_tx.data, 0, 0, 0, 0, zero, zero,
                                                           signatures])
        return safe, data

    def issue_once(self) -> FloorTiming:
        safe, data = self.exec_call()
        start = time.perf_counter()
        call = {"from": self.account.address, "to": safe, "data": "0x" + data.hex()}
        gas = int(self._rpc("eth_estimateGas", call), 16)
        tx: dict[str, Any] = {
            "to": safe, "data": data, "value": 0, "gas": gas * 6 // 5, "nonce": self.nonce, "chainId": self.chain_id,
            "maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 10**9,
        }
        signed = self.account.sign_transaction(tx)
        sending = time.perf_counter()
        tx_hash = self._rpc("eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())
        self.nonce += 1
        deadline = sending + TIMEOUT_SECONDS
        while (receipt := self._rpc("eth_getTransactionReceipt", tx_hash)) is None:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"bench: no receipt for the floor's {tx_hash} after {TIMEOUT_SECONDS:.0f} s")
            time.sleep(POLL_SECONDS)
        end = time.perf_counter()
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"bench: the floor's execTransaction {tx_hash} reverted")
        return FloorTiming(total=end - start, send_to_receipt=end - sending)
