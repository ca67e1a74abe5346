"""`make bench`: pages and APIs under gunicorn, each against a trivial view served by the same server.

gunicorn runs as production runs it: the project's gunicorn.conf.py (its workers, threads, keep-alive and
worker recycling, unchanged) with the production settings (persistent database connections, the Redis
cache, whitenoise, CSP), on a free loopback port, against the bench database and node. Requests carry
`X-Forwarded-Proto: https`, as the TLS proxy in front would (gunicorn believes it from loopback only).

The load comes from a second process: a fixed number of kept-alive HTTP/1.1 connections, each sending its
next request as soon as the previous answer is read, for a fixed time per round. Rounds are interleaved
(trivial, reserve API, reserve page, proposals, trivial, ...) and the median req/s of each path is taken,
so the product and its floor see the same machine. Every answer must be a 200: a row measuring refusals or
errors is worthless, so anything else stops the bench with the answer's head.

The floor is a trivial view of the product (FLOOR_PATH) through the same middleware, settings and server.
The load process shares the machine's CPUs with the server; what it used (a tenth of a CPU or so at the
floor's rate: an asyncio loop of raw sockets) is in the note, since it caps the floor first.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from backoffice.core.bench import Row, bench_rows, process_stop, rate_row

if TYPE_CHECKING:
    # Not at run time: the load process imports this module without Django's settings.
    from backoffice.core.bench.environment import BenchEnv

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
FLOOR_PATH = "/healthz"
RESERVE_API_PATH = "/api/reserve/"
RESERVE_PAGE_PATH = "/reserve/"
PROPOSALS_PAGE_SIZE = 100
PROPOSALS_PATH = f"/api/proposals/?page_size={PROPOSALS_PAGE_SIZE}"
PROPOSALS = 100  # a quick run makes QUICK_PROPOSALS: each is carried out on chain, about a second each
QUICK_PROPOSALS = 10
ROUNDS = 5
ROUND_SECONDS = 3.0
WARM_UP_SECONDS = 1.0
# gunicorn.conf.py's request slots (3 workers x 4 threads): enough to keep every worker busy without
# queueing connections the server cannot serve anyway.
CONCURRENCY = 12
# Shares of the trivial view's req/s each path must reach (issue 13). The page: its HTML renders the same
# figures as the API plus the history chart (200 points, an SVG drawn per request) and a page of 50 bars,
# so a third of the API's share; 10 % still means hundreds of visitors a second on this machine.
TARGETS = {RESERVE_API_PATH: 0.30, RESERVE_PAGE_PATH: 0.10, PROPOSALS_PATH: 0.05}


@bench_rows("served")
def rows(env: BenchEnv, *, rounds: int | None = None, seconds: float | None = None,
         concurrency: int = CONCURRENCY) -> list[Row]:
    """The three rows, each against the same trivial view's median req/s (a quick run: one short round)."""
    rounds = rounds or env.size(ROUNDS, 1)
    seconds = seconds or (1.0 if env.quick else ROUND_SECONDS)
    progress = env.progress
    secret, listed = served_seed(proposals=env.size(PROPOSALS, QUICK_PROPOSALS), progress=progress)
    paths = [FLOOR_PATH, RESERVE_API_PATH, RESERVE_PAGE_PATH, PROPOSALS_PATH]
    rates: dict[str, list[float]] = {path: [] for path in paths}
    reconnects: Counter[str] = Counter()
    client_cpu: dict[str, list[float]] = {path: [] for path in paths}
    with gunicorn_running(env) as (port, workers, threads), load_process(env) as load:
        headers = {path: _headers(port) for path in paths}
        headers[PROPOSALS_PATH]["Authorization"] = f"Token {secret}"
        headers[RESERVE_PAGE_PATH]["Accept"] = "text/html"
        progress(f"served: gunicorn on 127.0.0.1:{port}, {rounds} rounds of {seconds:g} s per path")
        for path in paths:  # warm-up: imports, connections, caches; and every path's 200 checked before a round
            load.run(port=port, path=path, headers=headers[path], seconds=WARM_UP_SECONDS, concurrency=concurrency)
        for _ in range(rounds):
            for path in paths:
                result = load.run(port=port, path=path, headers=headers[path], seconds=seconds,
                                  concurrency=concurrency)
                rates[path].append(result.rate)
                reconnects[path] += result.reconnects
                client_cpu[path].append(result.client_cpu)
    floor = statistics.median(rates[FLOOR_PATH])
    floor_client_cpu = statistics.median(client_cpu[FLOOR_PATH])
    note = (f"gunicorn.conf.py ({workers} workers x {threads} threads), production settings; {concurrency} "
            f"connections from another process ({floor_client_cpu:.0%} CPU at the floor); median of {rounds} x "
            f"{seconds:g} s")
    names = {RESERVE_API_PATH: "GET /api/reserve/", RESERVE_PAGE_PATH: "GET /reserve/",
             PROPOSALS_PATH: f"GET /api/proposals/ ({listed} rows)"}
    return [
        rate_row(names[path], product_rps=statistics.median(rates[path]), floor_rps=floor, min_share=TARGETS[path],
                 floor_name=f"GET {FLOOR_PATH} (trivial view, same server)", note=note,
                 rounds_rps=[round(r, 1) for r in rates[path]],
                 floor_rounds_rps=[round(r, 1) for r in rates[FLOOR_PATH]],
                 reconnects=reconnects[path], floor_reconnects=reconnects[FLOOR_PATH], workers=workers,
                 threads=threads, concurrency=concurrency, client_cpu=round(statistics.median(client_cpu[path]), 3),
                 floor_client_cpu=round(floor_client_cpu, 3))
        for path in (RESERVE_API_PATH, RESERVE_PAGE_PATH, PROPOSALS_PATH)
    ]


def _headers(port: int) -> dict[str, str]:
    return {"Host": f"127.0.0.1:{port}", "X-Forwarded-Proto": "https", "Accept": "application/json",
            "User-Agent": "usdkg-bench"}


# --- what the pages show --------------------------------------------------------------------

def served_seed(*, proposals: int = PROPOSALS, progress: Callable[[str], None] = lambda _: None) -> tuple[str, int]:
    """What the measured pages show, made through the product's services: `proposals` executed issue
    proposals (each with its multisig transaction and owner signatures), a full reserve history, the public
    figures published the way the worker publishes them (when the product has that step). Returns the
    secret of a new API token of the demo manager (who reads the proposals) and the rows the page holds."""
    from backoffice.accounts.tokens import api_token_create
    from backoffice.chain.client import chain_client
    from issuance.models import OwnerProposal, ReserveSnapshot
    from issuance.public.selectors import HISTORY_POINTS
    from issuance.services import reserve_snapshot_take

    missing = proposals - OwnerProposal.objects.count()
    if missing > 0:
        progress(f"served: {missing} issue proposals carried out through the services (about a second each)")
        with _messages_discarded():
            for _ in range(missing):
                _proposal_executed()
    client = chain_client()
    for _ in range(HISTORY_POINTS - ReserveSnapshot.objects.count()):
        reserve_snapshot_take(client=client)
    _reserve_publish(client)
    _, secret = api_token_create(user=_manager(), name=f"bench {uuid.uuid4().hex[:8]}", expires_in_days=1)
    return secret, min(OwnerProposal.objects.count(), PROPOSALS_PAGE_SIZE)


def _reserve_publish(client: Any) -> None:
    """The public figures as the worker publishes them to the cache the web processes read, where the
    product has that step (issue 13); before it, the first request fills the cache itself."""
    try:
        from issuance.public.services import reserve_publish  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    reserve_publish(client=client)


def _manager() -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="manager")


def _proposal_executed() -> None:
    """One issue proposal carried out in this process: the owners sign through the service, then the
    broadcaster and the follower the worker would run (anvil mines at once, so one follow settles it)."""
    from django.conf import settings

    from backoffice.chain.client import chain_client
    from backoffice.multisig.models import MultisigTransaction, TxState
    from backoffice.multisig.services import (
        multisig_transaction_after_execution,
        multisig_transaction_broadcast,
        multisig_transaction_follow,
    )

    from .bench_follow import issue_proposed, offchain_multisig_require, owner_sign

    client = chain_client()
    tx = issue_proposed()
    offchain_multisig_require(tx)
    for n in range(1, tx.threshold + 1):
        owner_sign(tx, n)
    multisig_transaction_broadcast(client=client, transaction_id=tx.pk)
    multisig_transaction_follow(client=client, transaction_id=tx.pk, confirmations=settings.CHAIN_CONFIRMATIONS)
    settled = MultisigTransaction.objects.get(pk=tx.pk)
    if settled.state != TxState.EXECUTED:
        raise RuntimeError(f"bench: seeding proposal transaction {tx.pk} ended {settled.state}: "
                           f"{settled.failure_reason}")
    multisig_transaction_after_execution(client=client, transaction_id=tx.pk)


@contextmanager
def _messages_discarded() -> Iterator[None]:
    """The broadcast messages the seeding's signatures send go to a queue of their own, deleted after: this
    process has already done their work, and no worker should find them later."""
    from backoffice.celery import app

    from .bench_follow import queue_delete

    queue, before = f"bench-discard-{uuid.uuid4().hex[:8]}", app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.task_default_queue = before
        queue_delete(queue)


# --- the server ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def production_env(env: BenchEnv, *, port: int) -> dict[str, str]:
    """The bench's environment under the production settings, bound to loopback: a fresh secret key, the
    local chain declared (its public relayer key is allowed there only), nothing else changed."""
    base = dict(env.env)
    if not base.get("CACHE_URL", "").startswith(("redis://", "rediss://")):
        # Production refuses any other cache, and the figures this process publishes must reach gunicorn.
        raise RuntimeError("bench: the served rows need CACHE_URL to name a Redis database, the same for the "
                           "bench and gunicorn (`make bench` sets BENCH_CACHE_URL)")
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CHAIN_CONFIRMATIONS": base.get("CHAIN_CONFIRMATIONS", "1"),
        "CHAIN_IS_LOCAL": "true",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }


def _gunicorn_settings() -> tuple[int, int]:
    """(workers, threads) as gunicorn.conf.py computes them from this environment."""
    values: dict[str, Any] = {}
    exec(compile(GUNICORN_CONF.read_text(), str(GUNICORN_CONF), "exec"), values)  # noqa: S102 - our own config
    return int(values["workers"]), int(values["threads"])


@contextmanager
def gunicorn_running(env: BenchEnv) -> Iterator[tuple[int, int, int]]:
    """gunicorn with gunicorn.conf.py under the production settings on a free loopback port, until the
    block ends; yields (port, workers, threads). Ready when the trivial view answers 200."""
    port = _free_port()
    process_env = production_env(env, port=port)
    workers, threads = _gunicorn_settings()
    log_path = Path(env.var_dir) / "bench-gunicorn.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn, fixed arguments
            # Without the control socket: it lives at one path per user, which another gunicorn on this
            # machine may hold; nothing measured goes through it.
            [str(Path(sys.executable).with_name("gunicorn")), "-c", str(GUNICORN_CONF), "--no-control-socket"],
            cwd=ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            _wait_ready(process, port, log_path)
            yield port, workers, threads
        finally:
            process_stop(process, group=True)


def _wait_ready(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"bench: gunicorn did not start (exit code {process.poll()}):\n"
                               f"{log_path.read_text()[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", FLOOR_PATH, headers=_headers(port))
            response = connection.getresponse()
            body = response.read()
        except OSError:
            time.sleep(0.1)
            continue
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"bench: the floor {FLOOR_PATH} answers {response.status}, not 200: the product "
                               f"needs a trivial view there:\n{body[:500]!r}")
        return


# --- the load: a second process -------------------------------------------------------------------

@dataclass(frozen=True)
class LoadResult:
    rate: float  # 200 answers a second
    answers: int
    reconnects: int  # connections the server closed (worker recycling) or reset, opened again
    client_cpu: float  # CPU seconds the load process spent per second of the round (1.0: a whole CPU)


class LoadProcess:
    """The driver's side: one request per round on the child's stdin, one JSON answer on its stdout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def run(self, *, port: int, path: str, headers: dict[str, str], seconds: float, concurrency: int) -> LoadResult:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None  # noqa: S101 - both are pipes (Popen below)
        stdin.write(json.dumps({"port": port, "path": path, "headers": headers, "seconds": seconds,
                                "concurrency": concurrency}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"bench: the load process died (exit code {self.process.poll()})")
        answer = json.loads(line)
        if answer.get("error"):
            raise RuntimeError(f"bench: GET {path}: {answer['error']}")
        statuses: dict[str, int] = answer["statuses"]
        if set(statuses) - {"200"} or not statuses:
            raise RuntimeError(f"bench: GET {path} answered {statuses} (only 200s are measured); first other "
                               f"answer:\n{answer['first_other']}")
        return LoadResult(rate=statuses["200"] / answer["elapsed"], answers=statuses["200"],
                          reconnects=answer["reconnects"], client_cpu=answer["cpu"] / answer["elapsed"])


@contextmanager
def load_process(env: BenchEnv) -> Iterator[LoadProcess]:
    """The load generator in a process of its own (its own interpreter, so its work never shares this
    process's GIL), kept for every round."""
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", "from issuance.bench_served import load_serve; load_serve()"],
        cwd=ROOT, env=dict(env.env), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        yield LoadProcess(process)
    finally:
        if process.stdin:
            process.stdin.close()
        process_stop(process, group=True)
        if process.stdout:
            process.stdout.close()


def load_serve(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout) -> None:
    """The child's loop: each line of stdin a round to run, each answer a line of stdout."""
    for line in stdin:
        order = json.loads(line)
        try:
            answer = asyncio.run(_load_round(**order))
        except Exception as exc:  # said to the driver, which stops the bench with it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


async def _load_round(*, port: int, path: str, headers: dict[str, str], seconds: float,
                      concurrency: int) -> dict[str, Any]:
    request = (f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
               + "\r\n").encode("latin-1")
    statuses: Counter[int] = Counter()
    state: dict[str, Any] = {"reconnects": 0, "first_other": ""}
    cpu_start, start = time.process_time(), time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_connection_loop(port, request, deadline, statuses, state) for _ in range(concurrency)))
    # No request starts after the deadline and every one started is answered: the answers over the time they
    # took (the last ones end a little after the deadline; for a path slower than the round, a lot after).
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"statuses": {str(k): v for k, v in statuses.items()}, "elapsed": elapsed, "cpu": cpu,
            "reconnects": state["reconnects"], "first_other": state["first_other"]}


async def _connection_loop(port: int, request: bytes, deadline: float, statuses: Counter[int],
                           state: dict[str, Any]) -> None:
    """One kept-alive connection: request, read the whole answer, count it, again until the deadline. A
    connection the server closes (gunicorn recycles workers) is opened again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, chunked, close = _head_parse(head)
                body = await (_chunked_read(reader) if chunked else reader.readexactly(length))
            except (asyncio.IncompleteReadError, ConnectionError):
                state["reconnects"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            statuses[status] += 1
            if status != 200 and not state["first_other"]:
                state["first_other"] = (head + body[:1000]).decode("latin-1")
            if close:
                state["reconnects"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


def _head_parse(head: bytes) -> tuple[int, int, bool, bool]:
    """(status, content length, chunked, connection closing) of an answer's head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection" and value == b"close":
            close = True
    return status, length, chunked, close


async def _chunked_read(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the empty line
                pass
            return body
        body += (await reader.readexactly(size + 2))[:-2]
