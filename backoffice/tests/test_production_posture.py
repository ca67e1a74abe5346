"""Production refuses danger before it starts, in one line naming the variable and without a traceback;
nothing falls back to the demo's settings; `check --deploy` is clean with safe values; gunicorn serves the
collected static files with WhiteNoise and every answer carries HSTS and the Content Security Policy."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from backoffice.chain.devkeys import OWNER_INDEXES, RELAYER_INDEX, dev_account
from backoffice.core.bench import process_stop
from conftest import ROOT, _free_port

PYTHON = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
PRODUCTION = "backoffice.settings.production"
# Everything production reads, so the values the test run itself uses never leak into a case.
_PRODUCTION_VARIABLES = ("DJANGO_SECRET_KEY", "DJANGO_DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL",
                         "CACHE_URL", "CHAIN_RPC_URL", "CHAIN_ID", "CHAIN_CONFIRMATIONS", "CHAIN_IS_LOCAL",
                         "RELAYER_PRIVATE_KEY_FILE", "MULTISIG_EXECUTOR_KEY_FILE", "DJANGO_SETTINGS_MODULE",
                         "VAR_DIR", "MEDIA_ROOT", "CELERY_RESULT_BACKEND", "CELERY_TASK_DEFAULT_QUEUE",
                         "DJANGO_ALLOW_ASYNC_UNSAFE")  # conftest sets it for Playwright; never in production
A_REAL_KEY = "0x" + "5c" * 32  # not one of anvil's


def _key_file(path: Path, key: str = A_REAL_KEY, mode: int = 0o600) -> str:
    path.write_text(key + "\n")
    path.chmod(mode)
    return str(path)


def safe_env(tmp_path: Path, **changes: str | None) -> dict[str, str]:
    """Production's environment with safe values, then `changes` (None removes a variable)."""
    env = {k: v for k, v in os.environ.items() if k not in _PRODUCTION_VARIABLES}
    env.update({
        "DJANGO_SETTINGS_MODULE": PRODUCTION,
        "DJANGO_SECRET_KEY": "k" * 20 + "Zq8-vX1_pL4rT7yW0eB3nM6cF9hJ2sD5", "ALLOWED_HOSTS": "backoffice.example",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/usdkg_unused",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15", "CACHE_URL": "redis://127.0.0.1:6379/15",
        "CHAIN_RPC_URL": "https://rpc.example", "CHAIN_ID": "1", "CHAIN_CONFIRMATIONS": "12",
        "RELAYER_PRIVATE_KEY_FILE": _key_file(tmp_path / "relayer.key"), "VAR_DIR": str(tmp_path / "var"),
    })
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _refused_with(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout[-1000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.stderr.strip() == message, result.stderr[-2000:]


def test_the_safe_environment_passes_check_deploy_without_a_warning(tmp_path: Path) -> None:
    result = _run([PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], safe_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert result.stderr == ""


def _dangers(tmp: Path) -> list[tuple[dict[str, str | None], str]]:
    anvil_key = "0x" + dev_account(RELAYER_INDEX).key.hex().removeprefix("0x")
    anvil_owner_key = dev_account(OWNER_INDEXES[0]).key.hex().removeprefix("0x")
    executor_path = tmp / "executor.key"
    return [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY is not set: production has no default for it"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is not set: production has no default for it"),
        ({"DJANGO_SECRET_KEY": "x" * 49},
         "DJANGO_SECRET_KEY is 49 characters long: at least 50 random characters are needed "
         "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"),
        ({"DJANGO_SECRET_KEY": "ab" * 40},
         "DJANGO_SECRET_KEY is not random: fewer than 5 different characters, or Django's insecure template key "
         "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + "Zq8-vX1_pL4rT7yW0eB3nM6cF9hJ2sD5kkkkkkkk"},
         "DJANGO_SECRET_KEY is not random: fewer than 5 different characters, or Django's insecure template key "
         "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"),
        ({"DJANGO_DEBUG": "true"},
         "DJANGO_DEBUG is on: production never shows debug pages (they print settings and source)"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is empty: name the host names this site answers to (comma-separated)"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is empty: name the host names this site answers to (comma-separated)"),
        ({"CELERY_BROKER_URL": "filesystem://"},
         "CELERY_BROKER_URL must be a redis:// or rediss:// URL in production (the filesystem transport is for "
         "one machine's demo), not 'filesystem'"),
        ({"CELERY_BROKER_URL": "amqp://guest@127.0.0.1//"},
         "CELERY_BROKER_URL must be a redis:// or rediss:// URL in production (the filesystem transport is for "
         "one machine's demo), not 'amqp'"),
        ({"CACHE_URL": None}, "CACHE_URL is not set: production has no default for it"),
        ({"CACHE_URL": f"filecache://{tmp}/cache"},
         "CACHE_URL must be a redis:// or rediss:// URL in production (locks need an atomic add shared by every "
         "process), not 'filecache'"),
        ({"CHAIN_CONFIRMATIONS": "0"}, "CHAIN_CONFIRMATIONS=0 is below 1"),
        ({"CHAIN_CONFIRMATIONS": "-3"}, "CHAIN_CONFIRMATIONS=-3 is below 1"),
        ({"CHAIN_ID": "mainnet"}, "CHAIN_ID='mainnet' is not a whole number"),
        ({"CHAIN_ID": None}, "CHAIN_ID is not set: production has no default for it"),
        ({"RELAYER_PRIVATE_KEY_FILE": str(tmp / "missing.key")},
         f"RELAYER_PRIVATE_KEY_FILE={tmp / 'missing.key'} is not a readable file"),
        ({"RELAYER_PRIVATE_KEY_FILE": _key_file(tmp / "open.key", mode=0o640)},
         f"RELAYER_PRIVATE_KEY_FILE={tmp / 'open.key'} is readable by others (mode 640): chmod 600 it"),
        ({"RELAYER_PRIVATE_KEY_FILE": _key_file(tmp / "anvil.key", key=anvil_key)},
         f"RELAYER_PRIVATE_KEY_FILE={tmp / 'anvil.key'} holds one of anvil's public test keys, which anyone can "
         "spend from: a chain that is not local (CHAIN_ID != 31337 or CHAIN_IS_LOCAL false) needs a key of its own"),
        # Anvil's chain id alone does not make a chain local: CHAIN_IS_LOCAL must say so too.
        ({"RELAYER_PRIVATE_KEY_FILE": _key_file(tmp / "anvil2.key", key=anvil_key), "CHAIN_ID": "31337"},
         f"RELAYER_PRIVATE_KEY_FILE={tmp / 'anvil2.key'} holds one of anvil's public test keys, which anyone can "
         "spend from: a chain that is not local (CHAIN_ID != 31337 or CHAIN_IS_LOCAL false) needs a key of its own"),
        ({"MULTISIG_EXECUTOR_KEY_FILE": _key_file(executor_path, key=f"# owner\n{A_REAL_KEY}\n{anvil_owner_key}")},
         f"MULTISIG_EXECUTOR_KEY_FILE={executor_path} holds one of anvil's public test keys, which anyone can "
         "spend from: a chain that is not local (CHAIN_ID != 31337 or CHAIN_IS_LOCAL false) needs a key of its own"),
        ({"MULTISIG_EXECUTOR_KEY_FILE": _key_file(tmp / "executor-open.key", mode=0o604)},
         f"MULTISIG_EXECUTOR_KEY_FILE={tmp / 'executor-open.key'} is readable by others (mode 604): chmod 600 it"),
    ]


def test_each_dangerous_value_alone_stops_manage_py_with_one_line_naming_it(tmp_path: Path) -> None:
    for changes, message in _dangers(tmp_path):
        result = _run([PYTHON, "manage.py", "check"], safe_env(tmp_path, **changes))
        _refused_with(result, message)


def test_anvil_keys_are_accepted_on_a_chain_declared_local(tmp_path: Path) -> None:
    """The other half of the anvil-key refusal: the same file passes on anvil's chain id with CHAIN_IS_LOCAL."""
    anvil_key = dev_account(RELAYER_INDEX).key.hex()
    env = safe_env(tmp_path, RELAYER_PRIVATE_KEY_FILE=_key_file(tmp_path / "anvil.key", key=anvil_key),
                   CHAIN_ID="31337", CHAIN_IS_LOCAL="true")
    result = _run([PYTHON, "manage.py", "check"], env)
    assert result.returncode == 0, result.stderr[-2000:]


UNSET = ("DJANGO_SETTINGS_MODULE is not set: name the settings (backoffice.settings.production in production; "
         "`make run` sets backoffice.settings.base for the demo)")


def test_without_django_settings_module_manage_wsgi_celery_and_gunicorn_refuse(tmp_path: Path) -> None:
    env = safe_env(tmp_path, DJANGO_SETTINGS_MODULE=None)
    _refused_with(_run([PYTHON, "manage.py", "check"], env), UNSET)
    _refused_with(_run([PYTHON, "-c", "import backoffice.wsgi"], env), UNSET)
    _refused_with(_run([str(BIN / "celery"), "-A", "backoffice", "worker", "--concurrency=1"], env), UNSET)
    _refused_with(_run([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{_free_port()}"],
                       env), UNSET)


def test_celery_beat_and_gunicorn_stop_on_a_dangerous_value_with_the_same_line(tmp_path: Path) -> None:
    env = safe_env(tmp_path, CHAIN_CONFIRMATIONS="0")
    for args in ([str(BIN / "celery"), "-A", "backoffice", "worker", "--concurrency=1"],
                 [str(BIN / "celery"), "-A", "backoffice", "beat"],
                 [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{_free_port()}"]):
        _refused_with(_run(args, env), "CHAIN_CONFIRMATIONS=0 is below 1")


def test_every_inline_script_in_our_templates_carries_the_csp_nonce() -> None:
    inline = []
    for template in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/**/templates/**/*.html")]:
        if ".venv" in template.parts or "node_modules" in template.parts:
            continue
        for tag in re.findall(r"<script\b[^>]*>", template.read_text()):
            if "src=" not in tag:
                inline.append((template.relative_to(ROOT), tag))
    assert inline, "the signing page's inline script is no longer found: this test looks in the wrong place"
    assert all('nonce="{{ request.csp_nonce }}"' in tag for _, tag in inline), inline


def _get(url: str, host: str = "backoffice.example", **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Host": host, **headers})  # noqa: S310 - loopback
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.mark.integration
def test_gunicorn_serves_collected_static_files_and_every_answer_is_hardened(tmp_path: Path) -> None:
    env = safe_env(tmp_path)
    collected = _run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], env, timeout=300)
    assert collected.returncode == 0, collected.stderr[-3000:]
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.2)
        # Plain HTTP is sent to HTTPS.
        status, headers, _ = _get(base + "/admin/login/")
        assert status == 301 and headers["Location"] == "https://backoffice.example/admin/login/"
        # Through the TLS proxy (loopback is in FORWARDED_ALLOW_IPS): the page, with every protection.
        status, headers, body = _get(base + "/admin/login/", **{"X-Forwarded-Proto": "https"})
        assert status == 200, body[-2000:]
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert "Secure" in headers["Set-Cookie"]  # the CSRF cookie
        # The stylesheet the page names is the hashed, collected one, served by WhiteNoise for a year.
        css = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', body)
        assert css, body[:3000]
        status, headers, content = _get(base + css.group(1).decode(), **{"X-Forwarded-Proto": "https",
                                                                          "Accept-Encoding": "gzip"})
        assert status == 200 and headers.get("Content-Encoding") == "gzip" and content
        assert "max-age=315360000" in headers["Cache-Control"] and "immutable" in headers["Cache-Control"]
    finally:
        process_stop(server, timeout=30)
        log.close()
