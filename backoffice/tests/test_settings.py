"""Production settings refuse to start without their secrets; the demo defaults need nothing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "RELAYER_PRIVATE_KEY_FILE")


def _start(settings_module: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED and not k.startswith(("CHAIN_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": settings_module, **env},
        capture_output=True, text=True, timeout=60,
    )


def _production_env(tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "relayer.key"
    key.write_text("0x" + "11" * 32)
    key.chmod(0o600)
    return {
        "DJANGO_SECRET_KEY": "a-secret-from-the-environment-" + "x" * 30, "DATABASE_URL": "postgres://u@127.0.0.1/db",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "CACHE_URL": "redis://127.0.0.1:6379/0",
        "RELAYER_PRIVATE_KEY_FILE": str(key),
        "ALLOWED_HOSTS": "backoffice.example", "CHAIN_RPC_URL": "http://127.0.0.1:8545", "CHAIN_ID": "1",
        "CHAIN_CONFIRMATIONS": "12", "VAR_DIR": str(tmp_path / "var"),
    }


def test_production_starts_with_every_secret_given(tmp_path):
    result = _start("backoffice.settings.production", **_production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_production_refuses_to_start_without_each_secret(tmp_path):
    for missing in REQUIRED:
        env = _production_env(tmp_path)
        del env[missing]
        result = _start("backoffice.settings.production", **env)
        assert result.returncode != 0, missing
        assert missing in result.stderr, result.stderr[-500:]


def test_production_refuses_a_relayer_key_file_that_does_not_exist(tmp_path):
    env = {**_production_env(tmp_path), "RELAYER_PRIVATE_KEY_FILE": str(tmp_path / "nope.key")}
    result = _start("backoffice.settings.production", **env)
    assert result.returncode != 0 and "is not a readable file" in result.stderr



_SQLITE_AS_OPENED = """
import django, json
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    modes = [cursor.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous", "busy_timeout")]
print(json.dumps([connection.vendor, connection.transaction_mode, *modes]))
"""


def test_sqlite_from_any_settings_and_url_opens_in_wal_with_a_busy_timeout_and_immediate_transactions(tmp_path):
    """What lets several owners sign at once on the demo (proven end to end by test_demo_defaults.py);
    PostgreSQL gets none of it."""
    for module, env in (("backoffice.settings.base", {"VAR_DIR": str(tmp_path / "var")}),
                        ("backoffice.settings.production", _production_env(tmp_path)),
                        ("backoffice.settings.test", {})):
        env = {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"}
        result = subprocess.run([sys.executable, "-c", _SQLITE_AS_OPENED], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": module}, timeout=60)
        assert result.returncode == 0, result.stderr[-2000:]
        # synchronous 1 is NORMAL; the busy timeout is in milliseconds.
        assert result.stdout.strip().splitlines()[-1] == '["sqlite", "IMMEDIATE", "wal", 1, 20000]', module

    script = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES)"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.base",
                                 "VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": "postgres://u@127.0.0.1/db"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "'ENGINE': 'django.db.backends.postgresql'" in result.stdout
    assert "transaction_mode" not in result.stdout and "PRAGMA" not in result.stdout
