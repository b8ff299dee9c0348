# Nudge: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KAFKA_VERSION ?= 3.9.2
KAFKA_PORT ?= 9092
KAFKA_CONTROLLER_PORT ?= 9093
REDIS_PORT ?= 6379
export KAFKA_VERSION KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT
# tests and the demo talk to the stack this Makefile starts
export NUDGE_TEST_KAFKA ?= 127.0.0.1:$(KAFKA_PORT)
export NUDGE_TEST_REDIS ?= redis://127.0.0.1:$(REDIS_PORT)/0
export NUDGE_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(KAFKA_PORT)
export NUDGE_REDIS_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0
STACK := deploy/local/stack.sh
WITH_STACK := deploy/local/with-stack.sh
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help install up down status lint format test test-unit test-integration demo clean bench bench-scale

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,rocksdb]"
	@touch $@

install: $(VENV)/.installed ## Create the venv and install Nudge with its dev tools

up: ## Start the local stack (Kafka $(KAFKA_VERSION) in KRaft mode + Redis)
	@$(STACK) up

down: ## Stop the local stack (only what `make up` started)
	@$(STACK) down

status: ## Show whether the local stack is running (stack.sh status exits 1 when it is not, for scripts)
	@$(STACK) status || true

lint: install ## Check style and types (edits nothing)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy streams/engine streams/decisions streams/analytics streams/state/db.py streams/state/indexes.py streams/state/cache.py streams/state/keys.py

format: install ## Format the code in place
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test-unit: install ## Run the pure unit tests (no stack needed)
	$(VENV)/bin/pytest tests/unit -q $(PYTEST_ARGS)

test: install ## Set everything up, run the chart checks and the unit + integration tests, stop the stack
	$(MAKE) --no-print-directory chart-test
	deploy/local/browser.sh
	$(WITH_STACK) $(VENV)/bin/pytest tests -q --ignore=tests/chart --durations=15 $(PYTEST_ARGS)

demo: install ## Run the demo on the local stack
	$(WITH_STACK) $(VENV)/bin/nudge demo $(DEMO_ARGS)

BENCH_ARGS ?=
# The scale section: user counts, and the time bound of each of its phases (a phase past it is reported as such)
BENCH_SCALE_SIZES ?= 50k,250k,1M
BENCH_SCALE_PHASE_MINUTES ?= 25
BENCH_SCALE := $(PY) -m streams.bench.scale --sizes $(BENCH_SCALE_SIZES) --phase-minutes $(BENCH_SCALE_PHASE_MINUTES)

bench: install ## Measure the worker vs raw consumers, Faust and Quix peers on one broker, then the scale section; writes BENCHMARKS.md (~15 min + scale)
	$(WITH_STACK) bash -c '$(VENV)/bin/nudge bench $(BENCH_ARGS) && $(BENCH_SCALE)'

bench-scale: install ## Only the scale section (one RocksDB worker at BENCH_SCALE_SIZES users); updates it in BENCHMARKS.md
	$(WITH_STACK) $(BENCH_SCALE)

clean: ## Stop the stack and remove local data (keeps downloaded jars)
	@$(STACK) clean

# Helm chart checks: helm is built once from its Go module into .local/bin; manifests are
# validated offline against the Kubernetes schemas bundled by kubernetes-validate.
HELM_VERSION ?= v3.19.5
CHART_KUBE_VERSION ?= 1.30.0

.PHONY: chart-test
chart-test: install ## Lint, render and validate the Helm chart (default + all features), run tests/chart
	HELM_VERSION=$(HELM_VERSION) KUBE_VERSION=$(CHART_KUBE_VERSION) VENV=$(VENV) deploy/chart-test.sh

# Fault injection: real processes on a private broker + Redis (free ports, own NUDGE_LOCAL_DIR) that the
# suite stops and restarts itself; the stack is needed only for the jars. FAULTS=quick runs a CI subset.
FAULTS ?= all
FAULTS_QUICK := clean or sigkilled or between_send or fcm_errors or connection_reset or exactly

.PHONY: test-faults
test-faults: install ## Fault-injection suite (kills, broker/Redis restarts, rebalances, FCM errors); FAULTS=quick for CI
	$(STACK) fetch
	$(VENV)/bin/pytest tests/faults -q -p no:cacheprovider $(if $(filter quick,$(FAULTS)),-k "$(FAULTS_QUICK)") $(PYTEST_ARGS)
