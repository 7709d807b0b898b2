# Conveyor: `make up` starts the whole stack, `make test` runs every test; both set up a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: up test test-unit bench system deps clean-venv

$(STAMP): $(wildcard requirements*.txt) pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	$(VENV)/bin/pip install -q --no-deps -r requirements-nodeps.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $(STAMP)

deps: $(STAMP)

system:
	bash scripts/bootstrap_system.sh

up: system deps
	bash scripts/up.sh

test: system deps
	$(VENV)/bin/python -m pytest

test-unit: deps
	$(VENV)/bin/python -m pytest tests/unit

bench: system deps
	$(VENV)/bin/python -m bench.run

clean-venv:
	rm -rf $(VENV)
