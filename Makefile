# Build and test tooling for dengage_django.  `make` alone lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Targets have side effects that must happen in order (pyenv, apt, venv).
.NOTPARALLEL:

PYTHON ?= python3.11
VENV := .venv
VENV_STAMP := $(VENV)/.installed
# The interpreters tox needs; pyenv puts python3.10 .. python3.13 on PATH.
PYENV_VERSIONS ?= 3.11.7 3.10.13 3.12.1 3.13.0
TOX_ARGS ?=
# `make bench` sizes: BENCH_EVENTS=2000 for a quick run of the event-count
# benchmarks, BENCH_SCALE_SIZES=10000,100000 to skip the million.
BENCH_EVENTS ?=
BENCH_SCALE_SIZES ?= 10000,100000,1000000
# Bench-only packages: never dependencies of the app.
BENCH_PACKAGES := segment-analytics-python pyinstrument ua-parser ua-parser-builtins

.PHONY: help pythons system-deps venv lint docs test demo demo-oscar shop bench bench-server clean

help: ## list the targets
	@echo "Targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

pythons: ## select the pyenv interpreters tox needs (no-op without pyenv)
	@if command -v pyenv >/dev/null 2>&1; then \
	  echo "pyenv global $(PYENV_VERSIONS)"; \
	  pyenv global $(PYENV_VERSIONS); \
	fi

system-deps: ## install what Debian must provide (mysqlclient headers, chromium), when missing
	@missing=""; \
	if ! { command -v mysql_config >/dev/null 2>&1 || command -v mariadb_config >/dev/null 2>&1; } \
	   || ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libmariadb; }; then \
	  missing="$$missing libmariadb-dev pkg-config"; \
	fi; \
	if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  missing="$$missing chromium chromium-driver"; \
	fi; \
	if [ -z "$$missing" ]; then \
	  echo "system-deps: libmariadb-dev, pkg-config and chromium present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "system-deps: installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update && apt-get install -y --no-install-recommends $$missing; \
	else \
	  echo "system-deps: missing$$missing; install them (needs root and apt-get)" >&2; \
	  exit 1; \
	fi

$(VENV_STAMP): setup.cfg pyproject.toml | pythons
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip
	$(VENV)/bin/python -m pip install tox ruff 'mypy>=2.4,<3' -e '.[test,postgres,docs]'
	touch $@

venv: $(VENV_STAMP) ## create ./.venv (python3.11) with tox, ruff and the package (editable)

lint: $(VENV_STAMP) ## ruff check, ruff format --check and mypy (the package)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

docs: $(VENV_STAMP) ## build the documentation to docs/_build/html (warnings are errors)
	$(VENV)/bin/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

test: pythons system-deps venv lint docs ## lint, build the docs (-W), then every tox environment (any failure fails)
	$(VENV)/bin/tox run $(TOX_ARGS)

demo: $(VENV_STAMP) ## the example shop's visitors become Dengage events, shown as a table
	$(VENV)/bin/python example_project/demo.py

OSCAR_VENV := .venv-oscar

demo-oscar: pythons ## the same for a django-oscar shop (example_project/oscar): one visitor, guest checkout to an order
	test -x $(OSCAR_VENV)/bin/python || $(PYTHON) -m venv $(OSCAR_VENV)
	$(OSCAR_VENV)/bin/python -m pip install -q -e '.[oscar]' 'sorl-thumbnail>=12.10'
	$(OSCAR_VENV)/bin/python example_project/oscar/demo.py

shop: $(VENV_STAMP) ## run the example shop at http://127.0.0.1:8000 (fake data center + sender)
	@trap 'kill 0' EXIT; \
	export DEBUG=true; \
	$(VENV)/bin/python example_project/manage.py migrate --verbosity 0; \
	$(VENV)/bin/python example_project/manage.py seed_shop; \
	$(VENV)/bin/python -m dengage_django.testing --port 8765 \
	  --campaigns example_project/campaigns.json & \
	$(VENV)/bin/python example_project/manage.py send_dengage_outbox --loop --interval 2 \
	  --no-progress & \
	$(VENV)/bin/python example_project/manage.py runserver 127.0.0.1:8000

bench: venv ## every benchmark, in order (DATABASE_URL for PostgreSQL; BENCH_EVENTS=N for a quick run)
	$(VENV)/bin/python -m pip install --quiet $(BENCH_PACKAGES)
	$(VENV)/bin/python bench/drain.py $(if $(BENCH_EVENTS),--events $(BENCH_EVENTS))
	$(VENV)/bin/python bench/scale.py --sizes $(BENCH_SCALE_SIZES)
	$(VENV)/bin/python bench/workers.py $(if $(BENCH_EVENTS),--events $(BENCH_EVENTS))
	$(VENV)/bin/python bench/record.py $(if $(BENCH_EVENTS),--events $(BENCH_EVENTS) --autocommit-events $(BENCH_EVENTS))
	$(VENV)/bin/python bench/middleware.py
	$(VENV)/bin/python bench/decide.py
	$(VENV)/bin/python bench/device.py

# BENCH_SERVER_ARGS=--quick for a short run (about 2 minutes); see bench/server.py --help.
BENCH_SERVER_ARGS ?=

bench-server: venv ## the example shop under gunicorn and uvicorn on PostgreSQL, with/without the middleware
	$(VENV)/bin/python -m pip install --quiet -e '.[server,postgres]'
	$(VENV)/bin/python bench/server.py $(BENCH_SERVER_ARGS)

clean: ## remove build, test and tox artefacts (keeps .venv)
	rm -rf .tox build dist .pytest_cache .ruff_cache docs/_build docs/_generated
	rm -rf ./*.egg-info
	rm -f tests/*.sqlite3 tests/test-db-*
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
