"""Production: the same settings, with no default for anything that must never be guessed.

A missing value stops start-up with django-environ's ImproperlyConfigured naming the variable.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import database_from_env, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": database_from_env()}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CHAIN_RPC_URL = env.str("CHAIN_RPC_URL")
CHAIN_ID = env.int("CHAIN_ID")
CHAIN_CONFIRMATIONS = env.int("CHAIN_CONFIRMATIONS")
CHAIN_IS_LOCAL = env.bool("CHAIN_IS_LOCAL", default=False)
RELAYER_PRIVATE_KEY_FILE = env.str("RELAYER_PRIVATE_KEY_FILE")
if not Path(RELAYER_PRIVATE_KEY_FILE).is_file():
    raise ImproperlyConfigured(f"RELAYER_PRIVATE_KEY_FILE={RELAYER_PRIVATE_KEY_FILE} is not a readable file")

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
