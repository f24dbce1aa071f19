# Two commands on a fresh machine with Python 3.11+:  `make run` (the demo) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help run test lint typecheck unit bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "streamrt needs Python 3.11+; set PYTHON=python3.x"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## set up and run the demo job (no Docker, no external Kafka)
	$(BIN)/python -m examples.orders_demo

test: $(STAMP)  ## set up and run lint, type checks and the whole test suite
	scripts/ensure-system-packages kcat prometheus docker-compose
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --cov --cov-report=term-missing:skip-covered

lint: $(STAMP)  ## ruff only
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)  ## mypy --strict only
	$(BIN)/mypy

unit: $(STAMP)  ## the tests without Kafka or Prometheus
	$(BIN)/python -m pytest -m 'not kafka and not prometheus'

bench: $(STAMP)  ## the benchmarks in bench/ (not part of the test suite)
	$(BIN)/python -m bench.chain_throughput

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
