# One command each on a fresh machine: `make demo`, `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench docs browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/genesys-finance demo

test: setup browser
	$(BIN)/pytest -q -rs

lint: setup
	$(BIN)/ruff check extract tests/python tests/genesys_oracles bench
	$(BIN)/ruff format --check extract tests/python tests/genesys_oracles bench
	$(BIN)/mypy
	$(BIN)/sqlfluff lint models macros tests --templater dbt

bench: setup
	$(PY) bench/run_all.py

# dbt docs for lineage review (target/static_index.html, one file). After `make demo` it documents
# the demo's warehouse, with the demo's lookups, unless GENESYS_FINANCE_DUCKDB says otherwise.
DEMO_DUCKDB := data/demo/genesys_finance_demo.duckdb
docs: setup
	@if [ -z "$$GENESYS_FINANCE_DUCKDB" ] && [ -f $(DEMO_DUCKDB) ]; then \
	  echo "docs of the demo warehouse $(DEMO_DUCKDB)"; \
	  GENESYS_FINANCE_DUCKDB=$(DEMO_DUCKDB) GENESYS_FINANCE_DEMO_LOOKUPS=true \
	    $(BIN)/genesys-finance build --docs; \
	else \
	  $(BIN)/genesys-finance build --docs; \
	fi
	@echo "open target/static_index.html"

# The browser tests drive Debian's Chromium (playwright downloads no browser here).
browser:
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

clean:
	rm -rf target logs dbt_packages data bench/out
