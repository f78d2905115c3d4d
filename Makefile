# Kuaisu: `make run` serves the demo, `make test` runs the whole suite on SQLite and PostgreSQL.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
RUN_PKGS := fonts-wqy-microhei
TEST_PKGS := chromium postgresql fonts-wqy-microhei redis-server nginx
# Workers (re)start in milliseconds only with cached bytecode; some shells disable it.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test venv deps-run deps-test lint test-sqlite test-postgres serve clean

run: deps-run
	$(BIN)/kuaisu translate compile
	$(BIN)/kuaisu db upgrade
	$(BIN)/kuaisu demo
	@echo "Kuaisu is serving on http://$(HOST):$(PORT)/  (back office: http://$(HOST):$(PORT)/office/)"
	@# One process: the embedded rate-limit storage (memory://) counts per process, so the
	@# per-phone limit stays exact. More workers need KUAISU_RATELIMIT_STORAGE_URI=redis://...
	@bash .ci/sweep-loop.sh $(BIN)/kuaisu & \
	  exec $(BIN)/gunicorn --preload --workers 1 --threads 8 --bind $(HOST):$(PORT) --access-logfile - \
	  --access-logformat '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss' wsgi:app

test: deps-test lint test-sqlite test-postgres

venv:
	@if [ ! -x $(BIN)/python ]; then \
	  if command -v uv >/dev/null 2>&1; then uv venv -q -p $(PYTHON) $(VENV); \
	  else $(PYTHON) -m venv $(VENV); fi; fi

deps-run: venv
	@bash .ci/apt.sh $(RUN_PKGS)
	@if command -v uv >/dev/null 2>&1; then uv pip install -q -p $(BIN)/python -e .; \
	  else $(BIN)/pip install -q -e .; fi
	$(BIN)/python -m compileall -q -j 0 portal merchants qr $(VENV)/lib >/dev/null || true

deps-test: venv
	@bash .ci/apt.sh $(TEST_PKGS)
	@if command -v uv >/dev/null 2>&1; then uv pip install -q -p $(BIN)/python -e '.[test]'; \
	  else $(BIN)/pip install -q -e '.[test]'; fi
	$(BIN)/python -m compileall -q -j 0 portal merchants qr tests bench $(VENV)/lib >/dev/null || true
	$(BIN)/kuaisu translate compile

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy

test-sqlite:
	$(BIN)/python -m pytest -p no:cacheprovider

test-postgres:
	bash .ci/with-postgres.sh $(BIN)/python -m pytest -p no:cacheprovider

clean:
	rm -rf $(VENV) instance
