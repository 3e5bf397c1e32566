# Shopflow: every entry point a user needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(PYTHON) -m uv
BIN := .venv/bin
SHOPFLOW := $(BIN)/shopflow
PYTEST_ARGS ?=

.PHONY: help setup data-docs-assets system-deps services-up services-down services-status env compose-env demo bench-cards transform quality-docs dashboards metabase airflow test test-fast lint format clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: ## install uv when missing and create .venv from uv.lock (idempotent)
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@# Bytecode compiled once: every Airflow task is a new Python process, and without .pyc files (or with
	@# PYTHONDONTWRITEBYTECODE set) each one compiles Airflow, Cosmos and dbt again (docs/orchestration.md).
	@$(UV) sync --frozen --quiet --compile-bytecode
	@echo "environment ready: $(BIN) ($$($(BIN)/python --version))"

DOCS_ASSETS := great_expectations/assets

data-docs-assets: ## npm packages Data Docs pages load (jQuery, Bootstrap, ...), so they work offline (needs npm)
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to install the Data Docs assets (apt-get install npm)"; exit 1; }
	@if [ ! -f $(DOCS_ASSETS)/node_modules/.package-lock.json ] || [ $(DOCS_ASSETS)/package-lock.json -nt $(DOCS_ASSETS)/node_modules/.package-lock.json ]; then \
	  npm ci --prefix $(DOCS_ASSETS) --no-audit --no-fund --ignore-scripts --loglevel=error && echo "Data Docs assets installed in $(DOCS_ASSETS)/node_modules"; \
	fi

system-deps: ## Debian packages the tests use (chromium for screenshots, docker-compose to read the compose file, redis-server for the compose rehearsal)
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:$$missing (install them as root)"; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

services-up: setup ## start the embedded PostgreSQL, S3 server and FakeStore API
	@$(SHOPFLOW) services up

services-down: ## stop the embedded services
	@$(SHOPFLOW) services down

services-status: ## show whether each service answers
	@$(SHOPFLOW) services status

env: ## print export lines for psql / aws-cli / boto3: eval "$$(make -s env)"
	@$(SHOPFLOW) services env

compose-env: ## write .env for docker compose with fresh random secrets (never overwrites an existing .env)
	@PYTHONPATH=src $(PYTHON) -m shopflow.deploy.compose_env .env

demo: setup data-docs-assets ## the whole pipeline on embedded services: every day of a year (or the last DAYS) replayed, dbt, dashboards
	@$(SHOPFLOW) demo $(if $(DAYS),--days $(DAYS)) $(if $(SCALE),--scale $(SCALE))

# The card benchmark's warehouse: a demo of its own per scale, so it never mixes with `make demo`'s.
BENCH_SCALE = $(or $(SCALE),100)
BENCH_DAYS = $(or $(DAYS),1)
BENCH_STATE = $(CURDIR)/.local/bench-scale-$(BENCH_SCALE)

bench-cards: setup ## card p50/p95 and refresh time on a SCALE (default 100) demo warehouse under .local/bench-scale-SCALE
	@export SHOPFLOW_STATE_DIR=$(BENCH_STATE); \
	$(SHOPFLOW) demo --scale $(BENCH_SCALE) --days $(BENCH_DAYS) \
	  && $(BIN)/python benchmarks/bench_cards.py $(if $(RUNS),--runs $(RUNS)); \
	status=$$?; $(SHOPFLOW) services down; exit $$status

transform: services-up ## dbt build: star schema, marts, data tests and unit tests
	@$(SHOPFLOW) transform

quality-docs: services-up data-docs-assets ## build Great Expectations Data Docs from the recorded validations
	@$(SHOPFLOW) quality docs

dashboards: services-up ## render the HTML dashboards from the marts
	@$(SHOPFLOW) dashboards render

airflow: setup ## Airflow 3 on the embedded services (api-server, scheduler, dag-processor, triggerer) until Ctrl-C
	@$(SHOPFLOW) airflow up

metabase: setup ## provision the dashboards into Metabase (METABASE_URL, METABASE_ADMIN_* ...)
	@$(SHOPFLOW) metabase provision

# Two xdist workers: most of a test's time is spent waiting on PostgreSQL, dbt or Airflow, so two
# workers fit two cores. Each worker starts its own embedded stack; a file's tests stay on one
# worker (tests/conftest.py). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)

test: setup system-deps data-docs-assets ## run every test: unit, integration and end-to-end (slow)
	$(BIN)/pytest $(XDIST) --durations=15 $(PYTEST_ARGS)

test-fast: setup data-docs-assets ## run the unit and integration tests (not the end-to-end ones marked slow)
	$(BIN)/pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

lint: services-up ## ruff, import contracts, mypy, the secret scanner and SQLFluff on the dbt models (dbt templater: needs the warehouse)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python scripts/check_secrets.py
	@# SQLFluff renders the models with the dbt templater: DBT_PG_* from the settings, like every dbt call.
	eval "$$($(BIN)/shopflow services env)" && cd transform && ../$(BIN)/sqlfluff lint models

format: setup ## apply ruff formatting and fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## stop services and delete all local state (.local/) and build output
	-@[ -x $(SHOPFLOW) ] && $(SHOPFLOW) services down
	rm -rf .local transform/target transform/logs great_expectations/uncommitted
