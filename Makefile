# One command each on a fresh machine: `make demo`, `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/genesys-finance demo

test: setup
	$(BIN)/pytest -q -rs

lint: setup
	$(BIN)/ruff check extract tests/python tests/genesys_oracles bench
	$(BIN)/ruff format --check extract tests/python tests/genesys_oracles bench
	$(BIN)/mypy
	$(BIN)/sqlfluff lint models macros tests --templater dbt

bench: setup
	$(PY) bench/run_all.py

docs: setup
	$(BIN)/genesys-finance build --docs

clean:
	rm -rf target logs dbt_packages data bench/out
