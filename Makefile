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

.PHONY: help pythons system-deps venv lint test clean

help: ## list the targets
	@echo "Targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

pythons: ## select the pyenv interpreters tox needs (no-op without pyenv)
	@if command -v pyenv >/dev/null 2>&1; then \
	  echo "pyenv global $(PYENV_VERSIONS)"; \
	  pyenv global $(PYENV_VERSIONS); \
	fi

system-deps: ## install the headers mysqlclient builds against, when missing
	@have_config=0; have_pc=0; \
	if command -v mysql_config >/dev/null 2>&1 || command -v mariadb_config >/dev/null 2>&1; then \
	  have_config=1; \
	fi; \
	if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libmariadb; then \
	  have_pc=1; \
	fi; \
	if [ "$$have_config$$have_pc" = 11 ]; then \
	  echo "system-deps: libmariadb-dev and pkg-config present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "system-deps: installing libmariadb-dev pkg-config"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update && apt-get install -y --no-install-recommends libmariadb-dev pkg-config; \
	else \
	  echo "system-deps: libmariadb-dev and pkg-config are missing;" \
	       "install them (needs root and apt-get) to build mysqlclient" >&2; \
	  exit 1; \
	fi

$(VENV_STAMP): setup.cfg pyproject.toml | pythons
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip
	$(VENV)/bin/python -m pip install tox ruff -e '.[test,postgres]'
	touch $@

venv: $(VENV_STAMP) ## create ./.venv (python3.11) with tox, ruff and the package (editable)

lint: $(VENV_STAMP) ## ruff check and ruff format --check over the repo
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: pythons system-deps venv lint ## lint, then every tox environment (any failure fails)
	$(VENV)/bin/tox run $(TOX_ARGS)

clean: ## remove build, test and tox artefacts (keeps .venv)
	rm -rf .tox build dist .pytest_cache .ruff_cache
	rm -rf ./*.egg-info
	rm -f tests/*.sqlite3 tests/test-db-*
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
