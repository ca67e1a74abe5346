# Two commands matter: `make run` (the whole product on embedded defaults) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
ANVIL  := node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
PORT   ?= 8000
RPC    ?= http://127.0.0.1:8545

.PHONY: help install run test lint contracts bench clean

help:
	@echo "make run        install what is missing, start anvil + web + Celery worker + beat (demo)"
	@echo "make test       install what is missing, run the test suite (PostgreSQL, Redis, anvil, chromium)"
	@echo "make lint       ruff + mypy"
	@echo "make contracts  recompile the token and refresh the contract artifacts"
	@echo "make bench      measure the hot paths against their floors (PostgreSQL + Redis; a fresh bench database)"

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(VENV)/.installed node_modules/.installed

# Debian's chromium for the browser tests; Playwright never downloads a browser here.
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

contracts: node_modules/.installed
	node backoffice/chain/contracts/compile.js

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

# The suite runs in TEST_WORKERS processes (pytest-xdist), each with its own test database, anvil, Celery
# worker, queue and cache keys; a file's tests stay together, in their order, in one process. Most of the
# time is waiting (browser, anvil, worker), so more processes than CPUs pay. `pytest path` runs alone.
TEST_WORKERS ?= 3
test: install /usr/bin/chromium
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# The demo's settings are named here, never taken as a default: manage.py, wsgi.py and celery.py refuse to
# start without DJANGO_SETTINGS_MODULE (production names backoffice.settings.production).
run bench: export DJANGO_SETTINGS_MODULE = backoffice.settings.base
# pytest would prefer a DJANGO_SETTINGS_MODULE from the shell (say, production's) over pyproject.toml.
test: export DJANGO_SETTINGS_MODULE = backoffice.settings.test

# anvil keeps its state in var/ across restarts; the EXIT trap stops only what this recipe started.
run: install
	@mkdir -p var
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py seed_demo
	@set -euo pipefail; \
	anvil_pid=""; \
	stop() { [ -z "$$anvil_pid" ] || kill $$anvil_pid 2>/dev/null || true; wait 2>/dev/null || true; }; \
	trap stop EXIT; \
	trap 'stop; echo "stopped: web, worker, beat$${anvil_pid:+ and anvil}"; exit 0' INT TERM; \
	answers() { curl -sf -m 1 -H 'Content-Type: application/json' \
	  -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' $(RPC) >/dev/null; }; \
	if ! answers; then \
	  $(ANVIL) --host 127.0.0.1 --port 8545 --accounts 20 --state var/anvil-state.json >var/anvil.log 2>&1 & \
	  anvil_pid=$$!; \
	  for _ in $$(seq 100); do answers && break; sleep 0.1; done; \
	  answers || { echo "anvil did not start: see var/anvil.log"; exit 1; }; \
	fi; \
	$(PY) manage.py deploy_chain --replace; \
	$(PY) manage.py gold_feed_set --usd-per-oz 2650.50; \
	$(PY) manage.py reserve_snapshot; \
	echo; echo "USDKG back-office: http://127.0.0.1:$(PORT)/admin/"; \
	echo "Demo logins (user password role address) from var/demo-logins.txt:"; cat var/demo-logins.txt; \
	echo "Ctrl-C stops everything."; echo; \
	PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile || true

# The bench's own database (dropped and created afresh each run; its name must contain "bench"), broker and
# cache: never the ones DATABASE_URL, CELERY_BROKER_URL or CACHE_URL name in the shell. BENCH_ARGS passes
# options, e.g. `make bench BENCH_ARGS="--only local --quick"`.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/usdkg_bench
BENCH_BROKER_URL   ?= redis://127.0.0.1:6379/2
BENCH_CACHE_URL    ?= redis://127.0.0.1:6379/3
bench: export DATABASE_URL = $(BENCH_DATABASE_URL)
bench: export CELERY_BROKER_URL = $(BENCH_BROKER_URL)
bench: export CACHE_URL = $(BENCH_CACHE_URL)
bench: export DJANGO_DEBUG = false
bench: export LOG_LEVEL = WARNING
bench: install
	@$(PY) manage.py bench $(BENCH_ARGS)

clean:
	rm -rf var
