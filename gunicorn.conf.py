"""gunicorn's settings for production (Procfile.production: `gunicorn -c gunicorn.conf.py`).

Every value can be changed from the environment without editing this file: PORT or GUNICORN_BIND,
WEB_CONCURRENCY (processes), GUNICORN_THREADS, GUNICORN_TIMEOUT, FORWARDED_ALLOW_IPS.
"""

import os

wsgi_app = "backoffice.wsgi:application"
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# The settings are loaded in the master, before any worker is forked: a refused setting stops gunicorn
# with its one line (backoffice/settings/checks.py) instead of workers that fail to boot over and over.
preload_app = True
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Threads, so a request waiting on the chain's RPC does not hold a whole process; each thread keeps its
# own database connection (CONN_MAX_AGE in production settings).
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Above CHAIN_RPC_TIMEOUT and the uploads' parsing; a request stuck longer than this is killed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Workers are replaced now and then, so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200
# The proxies whose X-Forwarded-* headers are believed (comma-separated; the TLS proxy in front).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = "-"
errorlog = "-"
