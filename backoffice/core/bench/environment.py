"""The bench's world: a fresh PostgreSQL database, a fresh anvil, the demo's signers and a deployed Safe.

`bench_environment()` builds it, points this process's settings at it and hands back a `BenchEnv` whose
`env` is what a subprocess (gunicorn, a Celery worker) needs to join the same world. Every run starts
from the same state, so two runs differ only by the machine, never by what an earlier run left behind.

The database is dropped and created again: its name must say "bench" (the dev or demo database is
never touched), and `make bench` names its own (BENCH_DATABASE_URL), whatever DATABASE_URL the shell has.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import logging
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import requests
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from django.utils.module_loading import import_string
from psycopg import sql

logger = logging.getLogger(__name__)

ROOT = Path(settings.BASE_DIR)
ANVIL_BIN = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ANVIL_CHAIN_ID = 31337
# The demo users' password in the bench database (thrown away with it): the served rows log in with it.
BENCH_PASSWORD = "bench-password-not-a-secret"  # noqa: S105


class BenchUnavailable(Exception):
    """What the bench needs is missing or refuses (PostgreSQL, Redis, anvil, a bench database name)."""


@dataclass(frozen=True)
class BenchEnv:
    """Where the bench's world is. `env` is a complete environment for subprocesses: the same database,
    broker, queue, chain, relayer key and media directory as this process."""

    var_dir: Path
    rpc_url: str
    chain_id: int
    database_url: str
    broker_url: str
    queue: str
    relayer_key_file: Path
    media_root: Path
    env: dict[str, str]
    quick: bool = False
    password: str = BENCH_PASSWORD
    progress: Callable[[str], None] = field(default=lambda _: None, compare=False, repr=False)

    def size(self, full: int, quick: int) -> int:
        """`quick` under --quick (proves the instrument works), else `full` (measures)."""
        return quick if self.quick else full


# --- what must be there ----------------------------------------------------------------------

def _database_url(db: dict[str, Any], name: str | None = None) -> str:
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name or db['NAME']}"


def _maintenance_connect(db: dict[str, Any]) -> psycopg.Connection[Any]:
    """A connection to the server's `postgres` database (to drop and create the bench's own)."""
    return psycopg.connect(dbname="postgres", host=db.get("HOST") or "127.0.0.1", port=db.get("PORT") or 5432,
                           user=db.get("USER") or None, password=db.get("PASSWORD") or None,
                           autocommit=True, connect_timeout=3)


def services_check() -> None:
    """PostgreSQL and Redis answer, and the database is one the bench may drop; BenchUnavailable says
    what is missing and how to provide it."""
    db = settings.DATABASES["default"]
    if db.get("ENGINE") != "django.db.backends.postgresql":
        raise BenchUnavailable("the bench needs PostgreSQL: set DATABASE_URL to a database whose name contains "
                               "'bench' (`make bench` uses BENCH_DATABASE_URL, default "
                               "postgres://postgres@127.0.0.1:5432/usdkg_bench)")
    if "bench" not in str(db.get("NAME")):
        raise BenchUnavailable(f"the bench drops and re-creates its database; {db['NAME']!r} does not look like a "
                               "bench database (its name must contain 'bench'): set DATABASE_URL")
    try:
        _maintenance_connect(db).close()
    except psycopg.Error as exc:
        raise BenchUnavailable(f"PostgreSQL does not answer at {db.get('HOST')}:{db.get('PORT') or 5432} "
                               f"({exc.__class__.__name__}): start it (the bench needs it)") from exc
    broker = str(settings.CELERY_BROKER_URL)
    if not broker.startswith(("redis://", "rediss://")):
        raise BenchUnavailable("the bench needs Redis as the Celery broker: set CELERY_BROKER_URL "
                               "(`make bench` uses BENCH_BROKER_URL, default redis://127.0.0.1:6379/2)")
    import redis

    try:
        redis.Redis.from_url(broker, socket_timeout=3, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise BenchUnavailable(f"Redis does not answer at the broker URL ({exc.__class__.__name__}): start it "
                               "(the bench needs it)") from exc
    if not ANVIL_BIN.exists():
        raise BenchUnavailable(f"anvil is missing at {ANVIL_BIN}: run `make install` (it runs `npm ci`)")


# --- a fresh database ------------------------------------------------------------------------

def _migrations_fingerprint() -> str:
    """Names and contents of every installed app's migrations: the schema a migrated database has."""
    digest = hashlib.sha256()
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        folder = Path(config.path) / "migrations"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
            digest.update(f"{config.label}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _exists(cursor: psycopg.Cursor[Any], name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def database_fresh(progress: Callable[[str], None]) -> None:
    """Drop the bench database and create it again, migrated. A migrated copy is kept as a template named
    after the migrations' fingerprint, so the next run clones it (a second) instead of migrating (20 s);
    a template of other migrations is dropped."""
    db = settings.DATABASES["default"]
    name = str(db["NAME"])
    template = f"{name}_tpl_{_migrations_fingerprint()}"
    connections.close_all()
    with _maintenance_connect(db) as admin, admin.cursor() as cursor:
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if _exists(cursor, template):
            try:
                cursor.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                                sql.Identifier(template)))
                progress(f"database {name}: fresh, cloned from {template}")
                return
            except psycopg.Error as exc:  # the template is busy (another run cloning it): migrate instead
                logger.warning("bench template=%s clone-failed=%r", template, exc)
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    progress(f"database {name}: fresh, migrating")
    call_command("migrate", interactive=False, verbosity=0)
    connections.close_all()
    with _maintenance_connect(db) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{name}\\_tpl\\_%"])
        for (stale,) in cursor.fetchall():
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(stale)))
        try:
            cursor.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(template),
                                                                            sql.Identifier(name)))
        except psycopg.Error as exc:  # only a saving for the next run
            logger.warning("bench template=%s not-kept=%r", template, exc)


# --- a fresh anvil ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rpc_answers(url: str) -> bool:
    try:
        return requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                             timeout=0.5).ok
    except requests.RequestException:
        return False


@contextmanager
def anvil_run(log_dir: Path, *, chain_id: int = ANVIL_CHAIN_ID) -> Iterator[str]:
    """A fresh anvil (automine, 20 test accounts) on a free loopback port; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "anvil.log").open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - the committed binary, fixed arguments
            [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id),
             "--accounts", "20"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not _rpc_answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchUnavailable(f"anvil did not start on {url}: see {log_dir / 'anvil.log'}")
                time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- counting what reaches the node ----------------------------------------------------------

class RpcCounter:
    """A loopback HTTP proxy in front of the node that counts what passes: `requests` (HTTP round
    trips, what costs a client its latency) and `calls` per JSON-RPC method (a batch is one request,
    several calls). It works whatever the chain client does inside, which is why the bench uses it."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests = 0
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        counter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the node itself offers

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                counter._count(body)
                answer = counter._session.post(counter.upstream, data=body,
                                               headers={"Content-Type": "application/json"}, timeout=30)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        self._session = requests.Session()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-rpc-counter", daemon=True)

    def _count(self, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        methods = [p.get("method", "?") for p in payload] if isinstance(payload, list) else [payload.get("method", "?")]
        with self._lock:
            self.requests += 1
            self.calls.update(methods)

    def reset(self) -> None:
        with self._lock:
            self.requests, self.calls = 0, Counter()

    def __enter__(self) -> RpcCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._session.close()


# --- the whole world -------------------------------------------------------------------------

def _world_seed(*, rpc_url: str, progress: Callable[[str], None]) -> None:
    """The demo's users and signers (one password for all), each app's demo data (the demo's audited
    gold, so issues pass their guards) and the token with both multisigs of the Safe kind."""
    from backoffice.accounts.services import demo_seed, signer_addresses
    from backoffice.chain.client import chain_client, relayer_account
    from backoffice.chain.models import MultisigKind, MultisigRole
    from backoffice.chain.services import deployment_ensure

    demo_seed(password=BENCH_PASSWORD)
    for path in settings.DEMO_SEEDERS:
        made = import_string(path)()
        if made:
            progress(made)
    result = deployment_ensure(
        client=chain_client(), account=relayer_account(),
        issuance_owners=signer_addresses(MultisigRole.ISSUANCE),
        compliance_owners=signer_addresses(MultisigRole.COMPLIANCE), kind=MultisigKind.SAFE,
    )
    progress(f"chain {rpc_url}: token {result.deployment.token}, Safe multisigs deployed")


@contextmanager
def bench_environment(*, var_dir: Path, quick: bool = False,
                      progress: Callable[[str], None] = lambda _: None) -> Iterator[BenchEnv]:
    """The bench's world for the duration of the block: fresh database (migrated), fresh anvil, relayer
    key (anvil's PUBLIC test key #0) under `var_dir`, demo signers and gold, the Safe kind deployed;
    this process's settings point at it, and `BenchEnv.env` lets subprocesses join it.

    Refuses (BenchUnavailable) before changing anything when PostgreSQL, Redis or anvil is missing."""
    from backoffice.celery import app
    from backoffice.chain.devkeys import RELAYER_INDEX, dev_account

    services_check()
    var_dir.mkdir(parents=True, exist_ok=True)
    database_fresh(progress)
    db = settings.DATABASES["default"]
    key_file = var_dir / "relayer.key"
    key_file.write_text(f"# anvil test account #{RELAYER_INDEX}: a PUBLIC test key, never for real funds\n"
                        f"{dev_account(RELAYER_INDEX).key.hex()}\n")
    key_file.chmod(0o600)
    media_root = var_dir / "media"
    media_root.mkdir(exist_ok=True)
    queue = f"bench-{os.getpid()}"  # nobody else's worker takes the bench's tasks, nor the bench theirs
    with anvil_run(var_dir) as rpc_url:
        overrides: dict[str, Any] = {
            "CHAIN_RPC_URL": rpc_url, "CHAIN_ID": ANVIL_CHAIN_ID, "RELAYER_PRIVATE_KEY_FILE": str(key_file),
            "CHAIN_CONFIRMATIONS": 1, "CHAIN_IS_LOCAL": True, "MEDIA_ROOT": media_root,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            # DEBUG keeps every query's SQL in memory: slower and growing, unlike production.
            "DEBUG": False,
        }
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE,
            "DATABASE_URL": _database_url(db), "CELERY_BROKER_URL": str(settings.CELERY_BROKER_URL),
            "CELERY_TASK_DEFAULT_QUEUE": queue, "CHAIN_RPC_URL": rpc_url, "CHAIN_ID": str(ANVIL_CHAIN_ID),
            "CHAIN_CONFIRMATIONS": "1", "CHAIN_IS_LOCAL": "true", "RELAYER_PRIVATE_KEY_FILE": str(key_file),
            "MEDIA_ROOT": str(media_root), "DJANGO_DEBUG": "false",
        }
        default_queue = app.conf.task_default_queue
        with override_settings(**overrides):
            app.conf.task_default_queue = queue
            try:
                _world_seed(rpc_url=rpc_url, progress=progress)
                yield BenchEnv(var_dir=var_dir, rpc_url=rpc_url, chain_id=ANVIL_CHAIN_ID,
                               database_url=env["DATABASE_URL"], broker_url=env["CELERY_BROKER_URL"], queue=queue,
                               relayer_key_file=key_file, media_root=media_root, env=env, quick=quick,
                               progress=progress)
            finally:
                app.conf.task_default_queue = default_queue
                queue_drop(queue)
                connections.close_all()


def queue_drop(queue: str) -> None:
    """Messages nobody consumed (broadcasts the local rows scheduled, say) must not outlive the run."""
    from backoffice.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
    except Exception as exc:  # noqa: BLE001 - a leftover queue is untidy, not a failed bench
        logger.warning("bench queue=%s not-dropped=%r", queue, exc)


@contextmanager
def queue_private(env: BenchEnv) -> Iterator[None]:
    """What this process schedules meanwhile (the broadcast a threshold hands to the worker, an import's
    job) goes to a queue of its own, dropped afterwards: no worker of the served or follow rows inherits it."""
    from backoffice.celery import app

    before, queue = app.conf.task_default_queue, f"{env.queue}-local"
    app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.task_default_queue = before
        queue_drop(queue)
