"""Refusals at start-up: one line on stderr naming the variable, exit status 2, no traceback.

A traceback buries the one fact an operator needs (which variable, what is wrong) under forty lines of
import machinery, and Django's ImproperlyConfigured always comes with one. These functions are called
while the settings module is imported, so `manage.py`, gunicorn (which preloads wsgi.py) and Celery all
stop with the same line before anything listens, connects or signs.

This module imports nothing from Django or the project at import time: manage.py, wsgi.py and celery.py
use it before any settings exist.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

REDIS_SCHEMES = ("redis://", "rediss://")
ANVIL_CHAIN_ID = 31337
SECRET_KEY_MIN_LENGTH = 50


def refuse(message: str) -> NoReturn:
    """Stop the process with `message` as the only output (SystemExit is not an Exception: nothing on the
    way out catches and prints it again)."""
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(2)


def settings_module_require() -> None:
    """Never guess the settings: production must not start on the demo's defaults because a variable was
    lost. `make run` names the demo's settings, the tests name theirs. (The first of manage.py, wsgi.py
    and celery.py to run says it; importing the `backoffice` package runs celery.py.)"""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        refuse("DJANGO_SETTINGS_MODULE is not set: name the settings (backoffice.settings.production in "
               "production; `make run` sets backoffice.settings.base for the demo)")


def env_required(name: str) -> str:
    """The value of a variable that has no default in production; refused when missing or blank."""
    value = os.environ.get(name, "").strip()
    if not value:
        refuse(f"{name} is not set: production has no default for it")
    return value


def env_int(name: str, *, minimum: int | None = None) -> int:
    value = env_required(name)
    try:
        number = int(value)
    except ValueError:
        refuse(f"{name}={value!r} is not a whole number")
    if minimum is not None and number < minimum:
        refuse(f"{name}={number} is below {minimum}")
    return number


def secret_key_check(secret: str) -> None:
    if len(secret) < SECRET_KEY_MIN_LENGTH:
        refuse(f"DJANGO_SECRET_KEY is {len(secret)} characters long: at least {SECRET_KEY_MIN_LENGTH} random "
               "characters are needed (python -c 'import secrets; print(secrets.token_urlsafe(50))')")
    # The rest of what `check --deploy` calls weak (security.W009), refused rather than warned about.
    if len(set(secret)) < 5 or secret.startswith("django-insecure"):
        refuse("DJANGO_SECRET_KEY is not random: fewer than 5 different characters, or Django's insecure "
               "template key (python -c 'import secrets; print(secrets.token_urlsafe(50))')")


def allowed_hosts_check(hosts: list[str]) -> None:
    if not [h for h in hosts if h.strip()]:
        refuse("ALLOWED_HOSTS is empty: name the host names this site answers to (comma-separated)")


def redis_url_check(name: str, url: str, purpose: str) -> None:
    if not url.startswith(REDIS_SCHEMES):
        scheme = url.split("://", 1)[0] if "://" in url else url
        refuse(f"{name} must be a redis:// or rediss:// URL in production ({purpose}), not {scheme!r}")


def _truthy(name: str) -> bool:
    """As django-environ's env.bool reads it."""
    return os.environ.get(name, "").strip().lower() in {"true", "on", "ok", "y", "yes", "1"}


def production_environment_check() -> None:
    """Every refusal of production's environment, run before base.py reads it (base.py parses some of
    these values itself and would stop with a traceback on, say, a CHAIN_ID that is not a number)."""
    secret_key_check(env_required("DJANGO_SECRET_KEY"))
    if _truthy("DJANGO_DEBUG"):
        refuse("DJANGO_DEBUG is on: production never shows debug pages (they print settings and source)")
    allowed_hosts_check(os.environ.get("ALLOWED_HOSTS", "").split(","))
    env_required("DATABASE_URL")
    redis_url_check("CELERY_BROKER_URL", env_required("CELERY_BROKER_URL"),
                    "the filesystem transport is for one machine's demo")
    redis_url_check("CACHE_URL", env_required("CACHE_URL"), "locks need an atomic add shared by every process")
    env_required("CHAIN_RPC_URL")
    chain_id = env_int("CHAIN_ID")
    env_int("CHAIN_CONFIRMATIONS", minimum=1)
    local = _truthy("CHAIN_IS_LOCAL") and chain_id == ANVIL_CHAIN_ID
    key_file_check("RELAYER_PRIVATE_KEY_FILE", env_required("RELAYER_PRIVATE_KEY_FILE"), chain_is_local=local)
    executor_key_file = os.environ.get("MULTISIG_EXECUTOR_KEY_FILE", "").strip()
    if executor_key_file:
        key_file_check("MULTISIG_EXECUTOR_KEY_FILE", executor_key_file, chain_is_local=local)


def _keys_in(path: Path) -> Iterable[str]:
    """The private keys a key file holds, normalised (lower-case hex without 0x): every line that is not
    empty nor a `#` comment (the relayer uses the last such line, the executor every one)."""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line.lower().removeprefix("0x")


def key_file_check(name: str, path_name: str, *, chain_is_local: bool) -> None:
    """A key file must be a file only its owner may read, and hold no publicly known key on a real chain."""
    path = Path(path_name)
    try:
        mode = path.stat().st_mode
        keys = list(_keys_in(path))
    except OSError:
        refuse(f"{name}={path_name} is not a readable file")
    if not stat.S_ISREG(mode):
        refuse(f"{name}={path_name} is not a readable file")
    if mode & 0o077:
        refuse(f"{name}={path_name} is readable by others (mode {stat.S_IMODE(mode):o}): chmod 600 it")
    if not chain_is_local and set(keys) & _anvil_keys():
        refuse(f"{name}={path_name} holds one of anvil's public test keys, which anyone can spend from: "
               f"a chain that is not local (CHAIN_ID != {ANVIL_CHAIN_ID} or CHAIN_IS_LOCAL false) needs a key "
               "of its own")


def _anvil_keys() -> set[str]:
    # Imported here: deriving the accounts needs eth-account, and only production settings ask.
    from backoffice.chain.devkeys import ACCOUNTS_NEEDED, dev_account

    return {dev_account(index).key.hex().lower().removeprefix("0x") for index in range(ACCOUNTS_NEEDED)}
