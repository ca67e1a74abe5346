"""The rows measured inside this process: signatures, the owner check, a broadcast's node requests and the
journal. Each runs the product's path and its physical floor in the same run (interleaved, median).

Each floor is the least any implementation must do for the same result, written with the bare parts
(coincurve, one JSON-RPC POST on a plain requests.Session, one SQL statement on the same connection), so a
ratio says how much the product adds on top and never flatters it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import coincurve
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from eth_account import Account
from eth_utils import keccak

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import OWNER_INDEXES, dev_account
from backoffice.chain.safetx import SafeTx, signature_recover
from backoffice.chain.selectors import deployment_get
from backoffice.journal.benchdata import bulk_address, journal_bulk_fill
from backoffice.journal.filters import JournalFilterForm
from backoffice.journal.models import JournalEntry, JournalHead
from backoffice.journal.selectors import journal_entries_filter, journal_page, journal_verify
from backoffice.journal.services import GENESIS_HASH, journal_entry_hash, journal_record
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


def _scaled(env: BenchEnv, full: int, quick: int) -> int:
    return quick if env.quick else full


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
    """Tables the floors write to: one bare row of a signature's size, and the journal's own shape (its
    columns and indexes, without the append-only triggers and the head)."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, payload bytea NOT NULL)")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_journal_floor (LIKE journal_journalentry INCLUDING ALL)")


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
                                 rounds=7, number=_scaled(env, 500, 50))
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
        for _ in range(_scaled(env, 3, 1)):
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
                                 rounds=7, number=_scaled(env, 100, 10))
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
    rounds, number = 7, _scaled(env, 10, 2)
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


# --- the journal -------------------------------------------------------------------------------------

def _entry_data(n: int) -> dict[str, Any]:
    """What a signature's acceptance journals: an owner address, a count, the threshold."""
    return {"owner": dev_account(OWNER_INDEXES[n % 7]).address, "count": n % 3 + 1, "threshold": 3}


@bench_rows("local")
def journal_append_row(env: BenchEnv) -> list[Row]:
    """journal_record, committed (in its own transaction, as a service outside any other writes it),
    against the floor of a durable hash-chained append: the same hashing and one INSERT of the same row
    into a table of the journal's shape and indexes, committed. What the product adds is the chain's
    own price: the head locked and moved (gapless numbering under concurrent writers) and the entry's
    references for lookup."""
    _scratch_tables()
    seq = itertools.count(1)
    prev = [GENESIS_HASH]

    def floor() -> None:
        n, created_at = next(seq), timezone.now().isoformat()
        content = {"seq": n, "created_at": created_at, "actor_id": None, "actor_username": "",
                   "action": "bench.append", "object_type": "", "object_id": "", "state_before": "",
                   "state_after": "", "reason": "", "origin_ip": None, "origin_agent": "", "data": _entry_data(n),
                   "prev_hash": prev[0]}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        entry_hash = hashlib.sha256(canonical.encode()).hexdigest()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_journal_floor (seq, created_at, actor_id, actor_username, action, object_type, "
                "object_id, state_before, state_after, reason, origin_ip, origin_agent, data, prev_hash, entry_hash) "
                "VALUES (%s, %s, NULL, '', 'bench.append', '', '', '', '', '', NULL, '', %s, %s, %s)",
                [n, created_at, json.dumps(content["data"]), prev[0], entry_hash])
        prev[0] = entry_hash

    count = itertools.count()
    product, floor_s = interleaved(lambda: journal_record(action="bench.append", data=_entry_data(next(count))),
                                   floor, rounds=7, number=_scaled(env, 50, 5))
    # 2x: the floor is one statement and a commit; the product's four statements (lock the head, insert the
    # entry, its references, move the head) share that commit, whose flush dominates both.
    return [time_row("journal append (committed)", product_s=product, floor_s=floor_s, max_ratio=2, unit="ms",
                     floor_name="hash + 1 INSERT, committed")]


def journal_chain_extend(count: int) -> int:
    """Append `count` genuine entries (real hashes, chained) in bulk and commit; returns the last seq.
    For the verify row: journal_record one by one would take minutes for what this writes in seconds."""
    with transaction.atomic():
        head, _ = JournalHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH})
        prev, seq, batch = head.last_hash, head.last_seq, []
        start = timezone.now() - timedelta(days=1)
        for n in range(count):
            seq += 1
            entry = JournalEntry(seq=seq, created_at=start + timedelta(milliseconds=n), actor_username="bench",
                                 action="bench.verify", object_type="multisig.multisigtransaction",
                                 object_id=str(n % 500), state_after="approved" if n % 3 else "",
                                 reason="bench entry" if n % 10 == 0 else "", origin_agent="",
                                 data=json.loads(json.dumps(_entry_data(n))), prev_hash=prev)
            entry.entry_hash = journal_entry_hash(entry)
            prev = entry.entry_hash
            batch.append(entry)
            if len(batch) == 2000:
                JournalEntry.objects.bulk_create(batch)
                batch = []
        JournalEntry.objects.bulk_create(batch)
        head.last_seq, head.last_hash = seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return seq


@bench_rows("local")
def journal_verify_row(env: BenchEnv) -> list[Row]:
    """journal_verify over the whole chain, per entry, against hashing alone: the canonical JSON and its
    SHA-256 of each entry's content, already in memory (what no verification can skip)."""
    journal_chain_extend(_scaled(env, 100_000, 2_000))
    contents = [
        {"seq": e.seq, "created_at": e.created_at.isoformat(), "actor_id": e.actor_id,
         "actor_username": e.actor_username, "action": e.action, "object_type": e.object_type,
         "object_id": e.object_id, "state_before": e.state_before, "state_after": e.state_after,
         "reason": e.reason, "origin_ip": e.origin_ip, "origin_agent": e.origin_agent, "data": e.data,
         "prev_hash": e.prev_hash}
        for e in JournalEntry.objects.order_by("seq").iterator(chunk_size=2000)
    ]
    check = journal_verify()
    if not check.ok:
        raise RuntimeError(f"the bench's journal does not verify: {check}")

    def hashing() -> None:
        for content in contents:
            hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                      ensure_ascii=False).encode()).hexdigest()

    product, floor = interleaved(journal_verify, hashing, rounds=_scaled(env, 5, 3), number=1)
    per = len(contents)
    return [time_row("journal verify, per entry", product_s=product / per, floor_s=floor / per, max_ratio=1.5,
                     floor_name="canonical JSON + SHA-256", note=f"{per:,} entries", entries=per)]


# --- the journal list at a million entries -----------------------------------------------------------

@dataclass(frozen=True)
class _ListCase:
    name: str
    query: dict[str, str]
    floor_where: str
    floor_params: list[Any]
    oldest: bool = False
    before: int | None = None


_PAGE_SQL = ("SELECT e.*, u.* FROM journal_journalentry e LEFT OUTER JOIN auth_user u ON u.id = e.actor_id "
             "WHERE {where} ORDER BY e.seq {order} LIMIT 51")


@bench_rows("local")
def journal_list_rows(env: BenchEnv) -> list[Row]:
    """Each filter of the journal list, and the last and a middle page, over a million entries (one
    INSERT ... SELECT, rolled back), against the same page fetched by hand-written SQL that walks the
    right index (all columns, the actor joined). Target 3x: what is left over the raw query is the ORM
    building 50 objects, a fixed millisecond or so; a page that misses its index reads the million
    rows and lands at 100x or more."""
    size = _scaled(env, 1_000_000, 20_000)
    rows: list[Row] = []
    with transaction.atomic():
        last = journal_bulk_fill(size)
        with connection.cursor() as cursor:  # what autovacuum would have done after such a load
            cursor.execute("ANALYZE journal_journalentry; ANALYZE journal_journalreference")
        since, until = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"
        in_refs = "e.id IN (SELECT entry_id FROM journal_journalreference WHERE value = %s)"
        reason_q = f"reason {last - 5000}"
        cases = [
            _ListCase("newest page", {}, "TRUE", []),
            _ListCase("filter: time range", {"since": since, "until": until},
                      "e.created_at >= %s AND e.created_at < %s", [since, until]),
            _ListCase("filter: actor", {"actor": "bulk3"}, "e.actor_username = %s", ["bulk3"]),
            _ListCase("filter: action", {"action": "bulk.action5"}, "e.action = %s", ["bulk.action5"]),
            _ListCase("filter: action, last page", {"action": "bulk.action5"}, "e.action = %s", ["bulk.action5"],
                      oldest=True),
            _ListCase("filter: object type+id", {"object_type": "bulk.thing", "object_id": "42"},
                      "e.object_type = %s AND e.object_id = %s", ["bulk.thing", "42"]),
            _ListCase("filter: state", {"state": "state2"}, "e.state_after = %s", ["state2"]),
            _ListCase("filter: address", {"address": bulk_address(7)}, in_refs, [bulk_address(7)]),
            _ListCase("search: reason text", {"q": reason_q},
                      "e.id IN (SELECT id FROM journal_journalentry WHERE UPPER(reason) LIKE UPPER(%s) "
                      "UNION SELECT entry_id FROM journal_journalreference WHERE value = %s)",
                      [f"%{reason_q}%", reason_q]),
            _ListCase("search: reference", {"q": bulk_address(3)},
                      "e.id IN (SELECT id FROM journal_journalentry WHERE UPPER(reason) LIKE UPPER(%s) "
                      "UNION SELECT entry_id FROM journal_journalreference WHERE value = %s)",
                      [f"%{bulk_address(3)}%", bulk_address(3)]),
            _ListCase("last page", {}, "TRUE", [], oldest=True),
            _ListCase("middle page", {}, "e.seq < %s", [last // 2], before=last // 2),
        ]
        for case in cases:
            form = JournalFilterForm(case.query)
            if not form.is_valid():
                raise RuntimeError(f"bench filter {case.name}: {form.errors.as_text()}")
            entries = journal_entries_filter(filters=form.cleaned_data)
            page_sql = _PAGE_SQL.format(where=case.floor_where, order="ASC" if case.oldest else "DESC")

            def product(entries: Any = entries, case: _ListCase = case) -> int:
                return len(journal_page(entries, oldest=case.oldest, before=case.before).entries)

            def floor(sql: str = page_sql, params: list[Any] = case.floor_params) -> int:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    return len(cursor.fetchall()[:50])

            if product() != floor():
                raise RuntimeError(f"journal list {case.name}: the floor's page is not the product's")
            product_s, floor_s = interleaved(product, floor, rounds=5, number=_scaled(env, 10, 3))
            rows.append(time_row(f"journal {size // 1000:,}k: {case.name}", product_s=product_s, floor_s=floor_s,
                                 max_ratio=3, unit="ms", floor_name="raw SQL by the index"))
        transaction.set_rollback(True)  # fake hashes: never committed
    return rows


def rows(env: BenchEnv) -> list[Row]:
    """Every local row of this module, in order (the command runs the registered functions one by one,
    so one that fails does not take the others with it)."""
    found: list[Row] = []
    for fn in (signature_rows, multisig_rows, journal_append_row, journal_verify_row, journal_list_rows):
        found += fn(env)
    return found

