"""Production: the same settings, with no default for anything that must never be guessed, and refusals
for values that would be dangerous.

Each missing or dangerous value stops start-up (manage.py, gunicorn, Celery) with one line on stderr
naming the variable and exit status 2 (backoffice/settings/checks.py), never with a traceback. The
environment is checked before base.py reads it.
"""

from .checks import production_environment_check

production_environment_check()

from .base import *  # noqa: E402,F403
from .base import CSP_DIRECTIVES, MIDDLEWARE, database_from_env, env  # noqa: E402

SECRET_KEY = env.str("DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# Persistent connections with health checks, as everywhere (base.py's database_from_env).
DATABASES = {"default": database_from_env()}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CACHES = {"default": env.cache_url("CACHE_URL")}

CHAIN_RPC_URL = env.str("CHAIN_RPC_URL")
CHAIN_ID = env.int("CHAIN_ID")
CHAIN_CONFIRMATIONS = env.int("CHAIN_CONFIRMATIONS")
CHAIN_IS_LOCAL = env.bool("CHAIN_IS_LOCAL", default=False)
RELAYER_PRIVATE_KEY_FILE = env.str("RELAYER_PRIVATE_KEY_FILE")

# --- HTTPS only, and browsers told so for a year (the preload list needs that, subdomains included).
SECURE_SSL_REDIRECT = True
# Behind a proxy that ends TLS, gunicorn takes the scheme from its X-Forwarded-Proto, from the addresses in
# FORWARDED_ALLOW_IPS only (gunicorn.conf.py); Django then sees HTTPS without SECURE_PROXY_SSL_HEADER.
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Static files served by the app itself (WhiteNoise, right after SecurityMiddleware so HTTPS redirects
# come first), compressed, with hashed names cached forever; `manage.py collectstatic` fills STATIC_ROOT.
_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")
MIDDLEWARE = [*MIDDLEWARE[: _security + 1], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[_security + 1:]]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# The Content Security Policy (base.py) enforced: scripts only from this site, or inline with the nonce.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": CSP_DIRECTIVES}
CONTENT_SECURITY_POLICY_REPORT_ONLY = None
