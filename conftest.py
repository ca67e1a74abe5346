"""Fixtures shared by every app's tests: the real parts (anvil, a Celery worker, a browser)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backoffice.core.bench import process_stop

ROOT = Path(__file__).resolve().parent
ANVIL_BIN = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ANVIL_CHAIN_ID = 31337


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rpc_answers(url: str) -> bool:
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=0.5) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except OSError:
        return False


@dataclass(frozen=True)
class AnvilNode:
    url: str
    chain_id: int


@contextmanager
def anvil_process(log_dir: Path, *, chain_id: int = ANVIL_CHAIN_ID) -> Iterator[AnvilNode]:
    """A real anvil node on a free loopback port (20 unlocked test accounts) until the block ends."""
    if not ANVIL_BIN.exists():
        pytest.fail(f"anvil is missing at {ANVIL_BIN}: run `make test` (it runs `npm ci`)")
    # Port 0: anvil binds a port the kernel picks and names it in its log. A port chosen here and bound later
    # could be taken in between by a parallel test process, and the node answering there would not be ours.
    log_path = log_dir / "anvil.log"
    log = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603 - fixed binary, fixed arguments
        [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", "0", "--chain-id", str(chain_id), "--accounts", "20"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline, url = time.monotonic() + 30, ""
        while not (url and _rpc_answers(url)):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"anvil did not start (exit code {process.poll()}):\n{log_path.read_text()[-2000:]}")
            if not url and (listening := re.search(r"Listening on (127\.0\.0\.1:\d+)", log_path.read_text())):
                url = f"http://{listening.group(1)}"
                continue
            time.sleep(0.05)
        yield AnvilNode(url=url, chain_id=chain_id)
    finally:
        process_stop(process, timeout=10)
        log.close()


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """The session's anvil node, shared by every test (chain state is shared, database state is not)."""
    with anvil_process(tmp_path_factory.mktemp("anvil")) as node:
        yield node


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """schemathesis names each API operation's test `test_x[GET /path/]`, but on pytest 9.2 every one of them
    gets the function's bare node id. pytest-xdist keeps a file's tests by node id and would run only one of
    them (and reports would overwrite each other): each takes its operation back into its node id."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and item._id.params is None:
            item._id = item._id.with_params(label)


# --- Django-side fixtures -------------------------------------------------------------------
# Playwright's sync API runs an event loop in the test thread; Django's ORM would refuse to run
# beside it. The tests' ORM calls are synchronous and sequential, so the guard is lifted here only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

TEST_PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - test users only


@pytest.fixture(autouse=True)
def _test_client_logins_pass_the_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every staff session must pass a second factor (backoffice/accounts/mfa.py). The test client's logins
    (force_login, login, APIClient.force_authenticate with a user) pass it too, as django_otp records it,
    and just now (a fresh step-up). Test clients only: tests about unverified sessions log in with
    backoffice.accounts.tests.mfa.log_in_password_only."""
    from django.conf import settings
    from django.test.client import ClientMixin
    from rest_framework.test import APIClient

    from backoffice.accounts.tests.mfa import PASSWORD_ONLY_LOGIN, client_session_attach, client_session_verify

    def _login(self: Any, user: Any, backend: Any = None) -> None:
        PASSWORD_ONLY_LOGIN(self, user, backend)
        client_session_verify(self, user)

    force_authenticate = APIClient.force_authenticate

    def _force_authenticate(self: Any, user: Any = None, token: Any = None) -> None:
        if user is None:
            # Anonymous again: drop the attached session first, or DRF's logout() would log its user out
            # (a journal entry the test never made).
            self.cookies.pop(settings.SESSION_COOKIE_NAME, None)
        force_authenticate(self, user, token)
        if user is not None and token is None:
            client_session_attach(self, user)

    monkeypatch.setattr(ClientMixin, "_login", _login)
    monkeypatch.setattr(APIClient, "force_authenticate", _force_authenticate)


def _flush_past_the_journal_guards() -> None:
    """Transactional tests empty every table with TRUNCATE, which the journal's triggers refuse (as they
    must in production). Only the tests' flush runs with triggers off, as the superuser it connects as."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    sql_flush = DatabaseOperations.sql_flush

    def flush(self: Any, style: Any, tables: Sequence[str], *, reset_sequences: bool = False,
              allow_cascade: bool = False) -> list[str]:
        statements = sql_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return ["SET LOCAL session_replication_role = replica", *statements] if statements else statements

    DatabaseOperations.sql_flush = flush  # type: ignore[method-assign]


_flush_past_the_journal_guards()


@dataclass(frozen=True)
class ChainFixture:
    node: AnvilNode
    relayer_key_file: Path
    # Per multisig kind: the deployment row's values and its multisig rows' values. Both kinds are
    # deployed once on the session's anvil (two tokens); a test's database holds the one it asked for.
    deployments: dict[str, tuple[dict[str, object], list[dict[str, object]]]]
    kind: str = "safe"

    @property
    def deployment_values(self) -> dict[str, object]:
        return self.deployments[self.kind][0]


@pytest.fixture(scope="session")
def chain_session(
    anvil: AnvilNode, django_db_setup: None, django_db_blocker: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ChainFixture]:
    """Settings point at the session's anvil; seed_demo's signers and `deploy_chain` run once on it.

    The rows this writes are rolled back: only the chain keeps the deployment, and each test's `chain` puts
    the rows back. Committed, the demo users would stay in the database for every later test of the process,
    so a test's outcome would depend on which tests ran before it (pytest-xdist changes that order)."""
    from django.core.management import call_command
    from django.db import transaction
    from django.forms.models import model_to_dict
    from django.test import override_settings

    from backoffice.accounts.services import demo_seed
    from backoffice.chain.devkeys import RELAYER_INDEX, dev_account
    from backoffice.chain.models import Deployment

    key_file = tmp_path_factory.mktemp("keys") / "relayer.key"
    key_file.write_text(dev_account(RELAYER_INDEX).key.hex())
    override = override_settings(
        CHAIN_RPC_URL=anvil.url, CHAIN_ID=anvil.chain_id, RELAYER_PRIVATE_KEY_FILE=str(key_file), CHAIN_CONFIRMATIONS=1
    )
    override.enable()
    try:
        with django_db_blocker.unblock(), transaction.atomic():  # type: ignore[attr-defined]
            demo_seed(password=TEST_PASSWORD)
            deployments = {}
            for kind in ("safe", "usdkg"):
                call_command("deploy_chain", "--multisig-kind", kind, stdout=open(os.devnull, "w"))  # noqa: SIM115
                deployment = Deployment.objects.get(chain_id=anvil.chain_id)
                multisigs = [model_to_dict(m, exclude=["id", "deployment"]) for m in deployment.multisigs.all()]
                deployments[kind] = (model_to_dict(deployment, exclude=["id"]), multisigs)
                deployment.delete()  # the next kind is deployed afresh, not found already deployed
            transaction.set_rollback(True)
        yield ChainFixture(node=anvil, relayer_key_file=key_file, deployments=deployments)
    finally:
        override.disable()


@pytest.fixture
def chain(chain_session: ChainFixture, db: None, request: pytest.FixtureRequest) -> ChainFixture:
    """The deployed chain plus its database rows (users, signers, deployment) for this test.

    The multisig kind is Safe unless the test asks for another one: parametrise indirectly, e.g.
    `@pytest.mark.parametrize("chain", ["safe", "usdkg"], indirect=True)`. Transactional tests empty
    the tables after themselves; this puts the rows back, idempotently.
    """
    import dataclasses

    from backoffice.accounts.services import demo_seed
    from backoffice.chain.models import Deployment, Multisig

    kind = getattr(request, "param", "safe")
    fixture = dataclasses.replace(chain_session, kind=kind)
    values, multisigs = chain_session.deployments[kind]
    demo_seed(password=TEST_PASSWORD)
    Deployment.objects.filter(chain_id=chain_session.node.chain_id).exclude(token=values["token"]).delete()
    deployment, created = Deployment.objects.get_or_create(chain_id=chain_session.node.chain_id, defaults=values)
    if created or not deployment.multisigs.exists():
        for row in multisigs:
            Multisig.objects.create(deployment=deployment, **row)
    return fixture


@contextmanager
def celery_worker_process(
    chain_session: ChainFixture, log_dir: Path, *, name: str, rpc_url: str | None = None, queue: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process (its own process group) on the real broker, the test database
    and anvil (or `rpc_url`, e.g. a proxy a test controls), consuming `queue` (default: the session's);
    ready when it answers a ping."""
    from django.conf import settings
    from django.db import connection

    from backoffice.celery import app

    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    if connection.vendor != "postgresql":
        pytest.fail("the Celery worker tests need PostgreSQL: set DATABASE_URL")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue or settings.CELERY_TASK_DEFAULT_QUEUE,  # what it sends, it consumes
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "CHAIN_RPC_URL": rpc_url or settings.CHAIN_RPC_URL,
        "CHAIN_ID": str(settings.CHAIN_ID),
        "CHAIN_CONFIRMATIONS": str(settings.CHAIN_CONFIRMATIONS),
        "RELAYER_PRIVATE_KEY_FILE": str(chain_session.relayer_key_file),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **(extra_env or {}),
    }
    log_path = log_dir / f"{name.split('@')[0]}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "celery"), "-A", "backoffice", "worker", "--loglevel=INFO", "-n", name,
         "-Q", queue or settings.CELERY_TASK_DEFAULT_QUEUE, "--concurrency=2", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[name], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}")
        yield process
    finally:
        process_stop(process, timeout=20, group=True)
        log.close()


@pytest.fixture
def private_queue() -> Iterator[str]:
    """This test's Celery messages go to a queue no worker of the session consumes (the test plays the
    worker itself, or starts one of its own on this queue): the session's worker cannot take them."""
    import uuid

    from backoffice.celery import app

    queue, before = f"private-{uuid.uuid4().hex[:8]}", app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = before


@pytest.fixture(scope="session")
def celery_worker(chain_session: ChainFixture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's real Celery worker; yields its name (for control commands)."""
    name = f"test-worker-{os.getpid()}@localhost"
    with celery_worker_process(chain_session, tmp_path_factory.mktemp("celery"), name=name):
        yield name


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright; never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        pytest.fail("chromium is missing: run `make test` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def roles(db: None) -> None:
    """The role groups with their permissions (transactional tests empty them after themselves)."""
    from backoffice.accounts.roles import roles_sync

    roles_sync()


@pytest.fixture
def gold_backing(chain: ChainFixture) -> object:
    """Audited gold worth about 10.6 million USD and a price, so issues fit the reserve headroom."""
    import uuid

    from django.contrib.auth import get_user_model

    from issuance import services
    from issuance.models import Vault
    from issuance.tests.factories import audit_submitted, bar_csv, deposit_verified, price_record

    users = get_user_model().objects
    operator, custodian, auditor = (users.get(username=n) for n in ("operator", "custodian", "auditor"))
    tag = uuid.uuid4().hex[:6]
    rows = [(f"GB{tag}{i:02d}", "400.000", "999.9", "") for i in range(10)]
    vault = Vault.objects.create(name=f"Backing vault {tag}", location="Zurich")
    deposit = deposit_verified(operator=operator, custodian=custodian, vault=vault, reference=f"GB-{tag}",
                               csv=bar_csv(rows))
    audit = audit_submitted(operator=operator, auditor=auditor, vault=vault, counts_csv=bar_csv(rows))
    services.audit_accept(audit_id=audit.pk, actor=auditor)
    price_record(operator=operator, usd_per_oz="2650.0000")
    deposit.refresh_from_db()
    return deposit
