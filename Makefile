# Elyune: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
SAMPLE := src/elyune_cli/data/sample-meeting.webm

.PHONY: demo test install install-dev lint format typecheck contracts pytest bench clean serve browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## demo: process the bundled sample meeting with the embedded engines
demo: install
	$(BIN)/elyune process $(SAMPLE)

## test: lint, format check, type checks, import contracts, tests with coverage; the
## tests include browser tests (tests/browser) and a schemathesis run over the whole API
## (tests/e2e/test_schemathesis.py, bounded by ST_MAX_TIME seconds, 120 by default)
test: install-dev browser lint typecheck contracts pytest

## browser: Debian's chromium for tests/browser (Playwright drives it; it cannot
## download a browser of its own here). apt-get runs only when it is missing.
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

format: install-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck:
	$(BIN)/mypy

contracts:
	$(BIN)/lint-imports

## --tb=native: Python 3.11.7's parser can fail on pytest's own traceback formatting
## ("AST constructor recursion depth mismatch"), which ends the whole run; native
## tracebacks keep every failure reported.
pytest:
	$(BIN)/python -m pytest -q --tb=native --durations=25 --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

## serve: run the API on the embedded defaults
serve: install
	$(BIN)/elyune serve

## bench: run the benchmark scripts and rewrite docs/benchmarks.md (about an hour;
## needs wrk, and PostgreSQL and Redis on localhost for the API and worker figures)
bench: install-dev
	$(BIN)/python bench/pipeline.py --runs 3
	$(BIN)/python bench/api.py --runs 3
	$(BIN)/python bench/api.py --runs 3 --postgres
	$(BIN)/python bench/throughput.py --recordings 10 --seconds 60
	$(BIN)/python bench/action_items.py

clean:
	rm -rf $(VENV) .elyune .mypy_cache .ruff_cache .pytest_cache .coverage
