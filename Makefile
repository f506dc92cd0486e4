# Tollgate: every target installs what it needs first, so each works on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := protos/tollgate/v1/snapshot.proto protos/tollgate/v1/resources.proto protos/tollgate/v1/reports.proto

# Tests use the machine's PostgreSQL; `make run` uses SQLite unless told otherwise.
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/tollgate

.PHONY: install browser run test lint bench protos protos-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The portal's tests drive Debian's Chromium (Playwright talks to it; it downloads nothing).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

run: install
	$(BIN)/python -m mgmt.manage run_embedded

test: install browser
	TOLLGATE_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -q $(PYTEST_ARGS)

lint: install protos-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -c 'import httptools, uvloop' 2>/dev/null || $(BIN)/pip install --quiet httptools uvloop
	$(BIN)/python -m tests.bench.run_bench
	$(BIN)/python -m tests.accesslog.bench_collector
	# The config path through mgmt: a saved change to Envoy serving it, ten times (prints the times).
	TOLLGATE_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -q -s -p no:cacheprovider tests/e2e/test_config_changes.py -k milliseconds
	# A month of generated usage on PostgreSQL (about 12 minutes to generate): the dashboard's queries.
	TOLLGATE_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m tests.bench.analytics_queries

protos: install
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. $(PROTOS)

# Generated code is committed; this fails when it is stale against the .proto files.
protos-check:
	tmp=$$(mktemp -d) && \
	$(BIN)/python -m grpc_tools.protoc -I . --python_out=$$tmp --pyi_out=$$tmp $(PROTOS) && \
	for f in snapshot_pb2.py snapshot_pb2.pyi resources_pb2.py resources_pb2.pyi reports_pb2.py reports_pb2.pyi; do \
	  cmp -s $$tmp/protos/tollgate/v1/$$f protos/tollgate/v1/$$f || { echo "stale generated code: protos/tollgate/v1/$$f (run make protos)"; rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var
