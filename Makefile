# casebook: `make run` starts both services on SQLite, `make test` runs every test.
# Everything installs itself into .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PROTOS := $(wildcard protos/casebook/v1/*.proto)
GEN_DIR := services/common
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install protos check-protos lint browser test run bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip check
	rm -f $(VENV)/.installed-*
	touch $@

# Regenerate the Python code for protos/ (committed, so clients need no toolchain).
protos: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iprotos \
	  --python_out=$(GEN_DIR) --pyi_out=$(GEN_DIR) --grpc_python_out=$(GEN_DIR) $(PROTOS)

# Fails when the committed generated code is not what `make protos` produces.
check-protos: $(STAMP)
	@tmp=$$(mktemp -d) && \
	$(BIN)/python -m grpc_tools.protoc -Iprotos \
	  --python_out=$$tmp --pyi_out=$$tmp --grpc_python_out=$$tmp $(PROTOS) && \
	for f in $$tmp/casebook/v1/*; do \
	  diff -q $$f $(GEN_DIR)/casebook/v1/$$(basename $$f) >/dev/null || \
	  { echo "generated code is stale: run 'make protos' ($$(basename $$f))"; rm -rf $$tmp; exit 1; }; \
	done; rm -rf $$tmp; echo "generated code is up to date"

lint: $(STAMP)
	$(BIN)/ruff check services tests
	$(BIN)/buf lint

# Headless Chromium renders the HTML audit export in tests/audit/test_html_export.py.
browser:
	@command -v chromium >/dev/null || \
	  ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium)

# The tests mostly wait on sockets, databases and processes: several workers on 2 cores.
PYTEST_WORKERS ?= 6
test: $(STAMP) browser check-protos lint
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

run: $(STAMP)
	$(BIN)/python -m casebook_case.devrun

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf var/ .pytest_cache .ruff_cache
