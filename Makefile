# cdr1c — two commands matter: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= demo-out

.PHONY: demo test lint typecheck pytest bench schema services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cdr1c demo --dir $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Starts MariaDB / PostgreSQL when they are installed but stopped, installs Chromium and the
# audio encoders the tests use (Debian packages; needs root, skipped otherwise).
services:
	bash .ci/services

pytest: $(STAMP)
	$(BIN)/pytest

test: $(STAMP) services lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run

schema: $(STAMP)
	$(BIN)/python -m etl.schema_sql

clean:
	rm -rf $(VENV) $(DEMO_DIR) .mypy_cache .ruff_cache
