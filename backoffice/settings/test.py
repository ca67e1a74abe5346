"""Tests: the real parts. PostgreSQL and Redis on this machine unless the environment says otherwise."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CSP_DIRECTIVES, database_from_env, env

DATABASES = {"default": database_from_env(default="postgres://postgres@127.0.0.1:5432/usdkg")}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
if not CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
# A queue of this run's own, so a stray worker from another run can never take its tasks.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default=f"test-{os.getpid()}")
# Results let a test wait for a task it sent; tasks still ignore results unless asked per call.
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
# Uploads of a test run go to a directory of its own; the worker is told the same directory.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=tempfile.mkdtemp(prefix="usdkg-test-media-")))
CACHES = {"default": env.cache_url("CACHE_URL", default="redis://127.0.0.1:6379/1")}
# Keys of this run's own (the worker processes it starts are told the same prefix), as for the queue: parallel
# test processes (pytest-xdist) share one Redis database and must never read each other's cached values.
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default=f"test-{os.getpid()}")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins; never outside tests
DEBUG = False
# The worker processes tests start keep mails in memory (the test process's outbox is pytest-django's).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
# Production's Content Security Policy enforced, so the browser tests prove every page works under it.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": CSP_DIRECTIVES}
CONTENT_SECURITY_POLICY_REPORT_ONLY = None
# Tests count a page's queries before and after long fills: the session's periodic "last activity" write
# would land in one count and not the other. The idle-expiry tests set the time of last activity themselves.
SESSION_SEEN_RESOLUTION_SECONDS = 3600
# A page left open at the end of a browser test stops waiting soon, so its server thread lets go of its
# database connection before the next test (or the end of the run) needs the database alone.
MULTISIG_WAIT_SECONDS = 2.0
