"""Every setting, read from the environment in one place.

With nothing set, the values are the embedded demo defaults that `make run` uses: SQLite and the
Celery filesystem transport under var/, anvil on 127.0.0.1:8545. production.py removes the defaults
for what must never be guessed.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

# Lets annotations such as forms.ModelForm[Deposit] run, not only type-check.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _demo_secret_key() -> str:
    """A per-machine random key kept under var/, so no secret is ever committed (demo only)."""
    path = VAR_DIR / "django-secret.key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _demo_secret_key()
DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from here: /api/docs/ works offline
    "django_fsm",
    # The second factor (backoffice/accounts/mfa.py): TOTP, recovery codes, passkeys.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "backoffice.core",
    "backoffice.journal",
    "backoffice.chain",
    "backoffice.multisig",
    "issuance",
    "compliance",
    "backoffice.accounts",  # last: syncs role permissions after every other app's are created
]

MIDDLEWARE = [
    # Outermost: it must see the answers Django makes from exceptions (404, 400, 500) to turn them into JSON.
    "backoffice.core.middleware.ApiErrorsAsJsonMiddleware",
    # Before anything reads the request: a NUL in a query is a 500 on PostgreSQL, in a header a lost journal entry.
    "backoffice.core.middleware.NulRefusalMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session idle too long, or too old, is logged out (with a message) before anything else looks at
    # its user.
    "backoffice.accounts.middleware.SessionTimeoutMiddleware",
    # user.is_verified(): whether this session passed its second factor ...
    "django_otp.middleware.OTPMiddleware",
    # ... and until it has, it reaches only enrolment, the challenge, logout and static files.
    "backoffice.accounts.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backoffice.journal.middleware.RequestOriginMiddleware",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backoffice.multisig.views_reconciliation.reconciliation_banner",
                "backoffice.accounts.views.inbox_context",
            ],
        },
    },
]


# SQLite (the demo's) is written by the web server's threads, the worker's processes and beat at once.
SQLITE_OPTIONS = {
    # Readers and the one writer no longer block each other; NORMAL is safe with WAL (a power cut may
    # lose the last commits, never corrupt the file) and spares an fsync per commit.
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
    # Every transaction takes the write lock as it begins. A deferred one that read first cannot wait
    # for the lock when it then writes (SQLite answers "database is locked" at once to avoid a
    # deadlock); an immediate one waits its turn.
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,  # seconds a connection waits for the write lock
}


def database_from_env(*, default: str | environ.NoValue = environ.Env.NOTSET) -> dict[str, Any]:
    """The DATABASE_URL database (or `default`); SQLite, whatever its URL, with SQLITE_OPTIONS
    (options given in the URL win)."""
    database: dict[str, Any] = env.db_url("DATABASE_URL", default=default)
    # One connection per worker thread, kept for a minute and checked before its first use in each request:
    # no connect per request (half of a small API request's time), and a connection the database or a proxy
    # dropped meanwhile is replaced instead of failing the request. `make run`'s runserver closes its
    # connections after every request anyway; 0 turns persistence off.
    database["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    database["CONN_HEALTH_CHECKS"] = True
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["OPTIONS"] = {**SQLITE_OPTIONS, **database.get("OPTIONS", {})}
    return database


DATABASES = {"default": database_from_env(default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# The journal's append is prepared once per connection (backoffice/core/sql.py); turn off when PostgreSQL is
# reached through a transaction-mode pooler that does not keep prepared statements.
DATABASE_PREPARE = env.bool("DATABASE_PREPARE", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Shared by every process (web, worker, beat). Not for locks: the file cache's `add` is not atomic, so
# periodic tasks and follow chains take database leases instead (backoffice.core.leases).
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"

LOGIN_URL = "admin:login"
# The only password backend: ModelBackend behind the account lock and the per-source limit.
AUTHENTICATION_BACKENDS = ["backoffice.accounts.throttle.ThrottledModelBackend"]

# --- Second factor and sessions (backoffice/accounts/mfa.py, middleware.py). Every signed-in user
# passes a second factor; approving, signing, proposing, cancelling and compliance steps need one within
# the last STEP_UP_SECONDS. Sessions end after SESSION_IDLE_SECONDS without a request and
# SESSION_MAX_SECONDS in all.
STEP_UP_SECONDS = env.int("STEP_UP_SECONDS", default=300)
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=1800)
SESSION_MAX_SECONDS = env.int("SESSION_MAX_SECONDS", default=43200)
# A session's last activity is written at most this often (not one session write per request).
SESSION_SEEN_RESOLUTION_SECONDS = env.int("SESSION_SEEN_RESOLUTION_SECONDS", default=15)
# The issuer the authenticator app shows beside the account.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="USDKG back-office")
# Passkeys: bound to this domain (never an IP address: browsers refuse them), from these origins.
OTP_WEBAUTHN_RP_ID = env.str("OTP_WEBAUTHN_RP_ID", default="localhost")
OTP_WEBAUTHN_RP_NAME = "USDKG back-office"
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list("OTP_WEBAUTHN_ALLOWED_ORIGINS", default=["http://localhost:8000"])
# A password alone never signs in: a passkey is a second factor here, not a replacement.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

# The largest file accepted of each kind, the same on every route (admin, API); larger is refused,
# with a message, before anything is stored. UPLOAD_MAX_<KIND>_MB overrides one.
# Uploads are readable by the service's user (and group) only, never by other accounts on the host.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
FILE_UPLOAD_HANDLERS = ["backoffice.core.uploads.MemoryUploadHandler", "backoffice.core.uploads.TemporaryUploadHandler"]
UPLOAD_MAX_BYTES = {
    kind: env.int(f"UPLOAD_MAX_{kind.upper()}_MB", default=megabytes) * 2**20
    for kind, megabytes in {"receipt": 25, "report": 100, "evidence": 100, "bar_list": 32, "screening": 20}.items()
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Personal API tokens (admin -> API tokens), stored hashed, with an expiry; DRF's authtoken is gone.
        "backoffice.accounts.tokens.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "USDKG back-office API",
    "VERSION": "1.0.0",
    # One name for each state list wherever it appears, so the schema has no ambiguous enums.
    "ENUM_NAME_OVERRIDES": {"TxStateEnum": "backoffice.multisig.models.TxState"},
    # Swagger UI and Redoc from the installed drf-spectacular-sidecar, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI's default asks validator.swagger.io for a badge: off, nothing leaves the host.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # The refusals every view gives alike (403, 404, 400) documented on every operation.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "backoffice.core.schema.refusals_complete"],
}

# --- Celery: a real worker always (never eager); filesystem transport for the demo, Redis elsewhere.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Every folder of the transport is named: each one left out defaults to a path relative to the
    # working directory (kombu's control_folder is "control", where the exchange tables live).
    _queue_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="backoffice")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task whose worker dies is redelivered, not lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "reserve-snapshot": {"task": "issuance.tasks.reserve_snapshot_task",
                         "schedule": float(env.int("RESERVE_SNAPSHOT_SECONDS", default=300))},
    "reserve-publish": {"task": "issuance.tasks.reserve_publish_task",
                        "schedule": float(env.int("RESERVE_PUBLISH_SECONDS", default=10))},
    "multisig-sweep": {"task": "backoffice.multisig.tasks.multisig_sweep_task", "schedule": 30.0},
    "gold-price-feed": {"task": "issuance.tasks.gold_price_feed_task",
                        "schedule": float(env.int("GOLD_PRICE_POLL_SECONDS", default=300))},
    "reconcile": {"task": "backoffice.multisig.tasks.reconcile_task",
                  "schedule": float(env.int("RECONCILE_SECONDS", default=60))},
    "frozen-register-refresh": {"task": "compliance.tasks.register_refresh_task", "schedule": 300.0},
    "bar-list-import-sweep": {"task": "issuance.tasks.bar_list_import_sweep_task", "schedule": 30.0},
    "chain-index": {"task": "backoffice.chain.tasks.chain_index_task",
                    "schedule": float(env.int("CHAIN_INDEX_SECONDS", default=5))},
    "login-failures-summarise": {"task": "backoffice.journal.tasks.login_failures_summarise_task", "schedule": 60.0},
    "notifications-sweep": {"task": "backoffice.accounts.tasks.notifications_sweep_task", "schedule": 60.0},
    "journal-anchor": {"task": "backoffice.journal.tasks.journal_anchor_task",
                       "schedule": float(env.int("JOURNAL_ANCHOR_SECONDS", default=3600))},
}

# --- Chain
CHAIN_RPC_URL = env.str("CHAIN_RPC_URL", default="http://127.0.0.1:8545")
CHAIN_ID = env.int("CHAIN_ID", default=31337)
# A block is trusted once this many blocks (itself included) sit on top of the chain head.
CHAIN_CONFIRMATIONS = env.int("CHAIN_CONFIRMATIONS", default=1)
CHAIN_RPC_TIMEOUT = env.int("CHAIN_RPC_TIMEOUT", default=10)
# The chain watcher: at most this many blocks per batch (one get_logs call, one DB transaction) ...
CHAIN_INDEX_BATCH_BLOCKS = env.int("CHAIN_INDEX_BATCH_BLOCKS", default=2000)
# ... and the hashes of indexed blocks are kept this many blocks below its cursor, to find where a
# reorganised chain forks (a deeper reorg indexes everything again from the deployment block).
CHAIN_REORG_WINDOW = env.int("CHAIN_REORG_WINDOW", default=128)
RELAYER_PRIVATE_KEY_FILE = env.str("RELAYER_PRIVATE_KEY_FILE", default=str(VAR_DIR / "relayer.key"))
# Whether `deploy_chain` and the development wallet may be used: only against a local test node.
CHAIN_IS_LOCAL = env.bool("CHAIN_IS_LOCAL", default=True)

# Reserve value (USD) per token issued: 1.00 means fully backed, 1.10 means 110 % collateral.
COLLATERAL_RATIO = Decimal(env.str("COLLATERAL_RATIO", default="1.00"))
if not COLLATERAL_RATIO.is_finite() or COLLATERAL_RATIO <= 0:
    raise ImproperlyConfigured(f"COLLATERAL_RATIO must be a positive number, not {COLLATERAL_RATIO}")

# The gold price comes from an XAU/USD feed (Chainlink AggregatorV3Interface) the worker reads; blank:
# the development aggregator deploy_chain records on the Deployment row. A reading older than the max age,
# or further than the max move from the last accepted price, is refused (stored with its reason);
# issues wait while the accepted price is stale or the reserve covers less than the floor of the supply.
GOLD_PRICE_FEED_ADDRESS = env.str("GOLD_PRICE_FEED_ADDRESS", default="")
GOLD_PRICE_POLL_SECONDS = env.int("GOLD_PRICE_POLL_SECONDS", default=300)
GOLD_PRICE_MAX_AGE_SECONDS = env.int("GOLD_PRICE_MAX_AGE_SECONDS", default=24 * 3600)
GOLD_PRICE_MAX_MOVE_PERCENT = Decimal(env.str("GOLD_PRICE_MAX_MOVE_PERCENT", default="10"))
GOLD_COVERAGE_FLOOR = Decimal(env.str("GOLD_COVERAGE_FLOOR", default="1.0"))
if GOLD_PRICE_MAX_AGE_SECONDS <= 0 or not GOLD_PRICE_MAX_MOVE_PERCENT.is_finite() or GOLD_PRICE_MAX_MOVE_PERCENT <= 0:
    raise ImproperlyConfigured("GOLD_PRICE_MAX_AGE_SECONDS and GOLD_PRICE_MAX_MOVE_PERCENT must be positive")
if not GOLD_COVERAGE_FLOOR.is_finite() or GOLD_COVERAGE_FLOOR < 0:
    raise ImproperlyConfigured(f"GOLD_COVERAGE_FLOOR must be a number at least 0, not {GOLD_COVERAGE_FLOOR}")

# A relayer transaction without a receipt after this long is replaced (same nonce, higher fees).
# What `seed_demo` adds after the users, per app (each returns what it made, "" when nothing).
DEMO_SEEDERS = ["issuance.demo.demo_gold_seed"]
# USDKG multisigs: only an owner may execute. A file of owner keys (one per line) the worker executes
# approved transactions with; empty: the owner whose approval completes the threshold sends it from
# the signing page. A key bound to a signer is refused: the executor never approves.
MULTISIG_EXECUTOR_KEY_FILE = env.str("MULTISIG_EXECUTOR_KEY_FILE", default="")
# Run after each chain-index step, with the client: consumers of the newly indexed events.
CHAIN_INDEX_CONSUMERS = ["backoffice.multisig.onchain.multisig_chain_events_apply",
                         "backoffice.multisig.reconciliation.reconciliation_events_apply"]
# The apps' reconciliation checks, each `(client, block) -> list[Check]`.
RECONCILIATION_CHECKS = ["issuance.reconciliation.reserve_check", "issuance.reconciliation.coverage_check",
                         "compliance.reconciliation.register_check"]
# The manager's history: the apps' items on an address's timeline, each `(address) -> Contribution`, and
# the models with a per-object timeline -> `(obj) -> related objects` (backoffice/multisig/timeline.py).
TIMELINE_ADDRESS_SOURCES = ["issuance.timeline.address_contribution", "compliance.timeline.address_contribution"]
# The apps' parts of the signing page, each `(tx) -> SigningSection | None` (backoffice/multisig/signing.py).
SIGNING_PAGE_SECTIONS = ["issuance.signing.section", "compliance.signing.section"]
TIMELINE_OBJECTS = {
    "issuance.ownerproposal": "issuance.timeline.proposal_related",
    "issuance.deposit": "issuance.timeline.deposit_related",
    "issuance.audit": "issuance.timeline.audit_related",
    "compliance.case": "compliance.timeline.case_related",
    "compliance.complianceproposal": "compliance.timeline.proposal_related",
}
# Each user's inbox: the sources of its items, each `(user) -> list[InboxItem]` (backoffice/accounts/inbox.py).
INBOX_SOURCES = ["backoffice.multisig.inbox.awaiting_signature", "issuance.inbox.proposals_mine",
                 "issuance.inbox.audits_assigned", "issuance.inbox.deposits_to_confirm",
                 "compliance.inbox.proposals_mine", "compliance.inbox.cases_opened"]
# Proposals settled within this many days stay on their proposer's inbox.
INBOX_RECENT_DAYS = env.int("INBOX_RECENT_DAYS", default=14)
RECONCILE_SECONDS = env.int("RECONCILE_SECONDS", default=60)
# What an approveHash costs, in gas (measured ~63k on the production contract), for the balance warning.
MULTISIG_APPROVAL_GAS = 80_000
MULTISIG_STUCK_SECONDS = env.int("MULTISIG_STUCK_SECONDS", default=120)
# Executed transactions this many blocks deep or less are re-checked for reorgs by the sweep.
MULTISIG_REORG_DEPTH = env.int("MULTISIG_REORG_DEPTH", default=64)
# Owners may not sign what they proposed (four-eyes); a setting so a small demo can relax it.
MULTISIG_FOUR_EYES = env.bool("MULTISIG_FOUR_EYES", default=True)
# The signing page's long-poll (multisig.views.transaction_wait): an unchanged page is answered after this
# many seconds and asks again; at most MULTISIG_WAIT_SLOTS requests wait at once per server process (each
# holds a thread: keep it below GUNICORN_THREADS), beyond them pages ask again every second.
MULTISIG_WAIT_SECONDS = env.float("MULTISIG_WAIT_SECONDS", default=20.0)
MULTISIG_WAIT_SLOTS = env.int("MULTISIG_WAIT_SLOTS", default=2)
if MULTISIG_WAIT_SECONDS <= 0 or MULTISIG_WAIT_SLOTS < 0:
    raise ImproperlyConfigured("MULTISIG_WAIT_SECONDS must be positive and MULTISIG_WAIT_SLOTS at least 0")

# Bar-list imports: the worker's hard time limit for one (its soft limit is a minute less).
BAR_LIST_IMPORT_TIME_LIMIT = env.int("BAR_LIST_IMPORT_TIME_LIMIT", default=660)
# A running import without progress this long is re-queued by the sweep. Longer than the hard time
# limit, so the worker that had it is certainly gone (killed, or stopped by the limit) by then.
BAR_LIST_IMPORT_STALE_SECONDS = env.int("BAR_LIST_IMPORT_STALE_SECONDS", default=BAR_LIST_IMPORT_TIME_LIMIT + 60)
# A queued import no worker took this long is sent again (a duplicate message is harmless).
BAR_LIST_IMPORT_QUEUED_SECONDS = env.int("BAR_LIST_IMPORT_QUEUED_SECONDS", default=60)
# An import that stopped this many workers fails instead of taking another (a list too large, say).
BAR_LIST_IMPORT_MAX_ATTEMPTS = env.int("BAR_LIST_IMPORT_MAX_ATTEMPTS", default=3)
if BAR_LIST_IMPORT_STALE_SECONDS <= BAR_LIST_IMPORT_TIME_LIMIT:
    raise ImproperlyConfigured("BAR_LIST_IMPORT_STALE_SECONDS must exceed BAR_LIST_IMPORT_TIME_LIMIT, or the sweep "
                               "would re-queue imports that a live worker is still running")

# The journal's head is published on chain every JOURNAL_ANCHOR_SECONDS (the beat schedule above); an
# anchor transaction without a receipt this long is replaced at the same nonce with higher fees.
JOURNAL_ANCHOR_STUCK_SECONDS = env.int("JOURNAL_ANCHOR_STUCK_SECONDS", default=120)

# --- Mail: notifications (backoffice/accounts/notifications.py) are mailed by the worker. With no
# EMAIL_HOST (the demo), mails are printed on the worker's console instead of being sent.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="USDKG back-office <backoffice@localhost>")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                        else "django.core.mail.backends.console.EmailBackend")
# Where the links in mails point: this site's address as people reach it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Failed logins: sources journalled one by one per minute; beyond this many, the rest share one counter.
LOGIN_FAILURE_SOURCES_PER_MINUTE = env.int("LOGIN_FAILURE_SOURCES_PER_MINUTE", default=100)
# Throttling (backoffice/accounts/throttle.py): this many consecutive wrong passwords lock an account until
# a superuser lifts the lock; this many failures (passwords or unknown API tokens) from one source within
# the window refuse that source for the window.
LOGIN_LOCK_FAILURES = env.int("LOGIN_LOCK_FAILURES", default=20)
LOGIN_SOURCE_FAILURES = env.int("LOGIN_SOURCE_FAILURES", default=50)
LOGIN_SOURCE_WINDOW_SECONDS = env.int("LOGIN_SOURCE_WINDOW_SECONDS", default=900)

# The public proof of reserve is read by the worker (chain and database) every this many seconds, and
# served to every request from the cache (issuance/public/services.py): no request asks the node.
RESERVE_PUBLISH_SECONDS = env.int("RESERVE_PUBLISH_SECONDS", default=10)

ISSUANCE_MULTISIG_OWNERS = 7
ISSUANCE_MULTISIG_THRESHOLD = 3
COMPLIANCE_MULTISIG_OWNERS = 5
COMPLIANCE_MULTISIG_THRESHOLD = 5

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"kv": {"format": "time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "kv"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Content Security Policy (django-csp): scripts only from this site, or inline with the request's nonce
# (`<script nonce="{{ request.csp_nonce }}">`); style attributes are allowed (the admin's, ours), they run
# no code. Report-only here, so the browser's console names what production would block; production.py and
# the tests enforce it. Innermost middleware: the nonce exists before any view renders.
CSP_DIRECTIVES: dict[str, list[Any]] = {
    "default-src": [SELF],
    "script-src": [SELF, NONCE],
    "style-src": [SELF, UNSAFE_INLINE],
    "img-src": [SELF, "data:"],
    "font-src": [SELF, "data:"],
    "connect-src": [SELF],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    "frame-ancestors": [NONE],
}
CONTENT_SECURITY_POLICY_REPORT_ONLY: dict[str, Any] | None = {"DIRECTIVES": CSP_DIRECTIVES}
CONTENT_SECURITY_POLICY: dict[str, Any] | None = None
MIDDLEWARE = [*MIDDLEWARE, "csp.middleware.CSPMiddleware"]
