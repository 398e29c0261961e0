# One entry point for users and CI. Everything installs itself, only when missing.
#   make quickstart   venv + install + a real 24-trial GNN search on SQLite, then the Pareto front
#   make test         the whole test suite (starts a private PostgreSQL and uses Debian's Chromium)
#   make lint         ruff + mypy
#   make bench        the benchmarks that print the figures quoted in the issues

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
NAS := $(VENV)/bin/nas
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
STORAGE ?= sqlite:///nas.db
PYTEST_WORKERS ?= 2
# The store (nas/store, the one door to Optuna) is tested on the oldest Optuna that
# pyproject.toml allows as well as on the venv's (the newest): installed once, beside the venv.
OPTUNA_OLDEST := $(shell sed -n 's/.*"optuna>=\([0-9.]*\),.*/\1/p' pyproject.toml)
OPTUNA_OLDEST_DIR := $(VENV)/optuna-oldest
OPTUNA_OLDEST_STAMP := $(OPTUNA_OLDEST_DIR)/.installed-$(OPTUNA_OLDEST)

.PHONY: install quickstart test test-store-oldest-optuna lint bench clean chromium

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned, so pip takes the CPU wheel on disk and never a CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,onnx]'
	rm -f $(VENV)/.installed-*
	touch $@

quickstart: install
	$(NAS) search studies/quickstart.toml --storage $(STORAGE)
	@echo
	@echo "Next: open the dashboard with   $(NAS) dashboard --storage $(STORAGE)"
	@echo "      or inspect the study with $(NAS) show quickstart --storage $(STORAGE)"

chromium:
	@bash .ci/chromium.sh

test: install chromium $(OPTUNA_OLDEST_STAMP)
	@bash .ci/with-postgres.sh bash -c '$(PY) -m pytest -n $(PYTEST_WORKERS) -q --durations=15 && $(MAKE) --no-print-directory test-store-oldest-optuna'

# tests/store with the oldest allowed Optuna first on the path (needs $$NAS_TEST_POSTGRES_URL
# for its PostgreSQL half: `make test` runs it inside .ci/with-postgres.sh).
test-store-oldest-optuna: $(OPTUNA_OLDEST_STAMP)
	@echo "tests/store on Optuna $$(PYTHONPATH=$(OPTUNA_OLDEST_DIR) $(PY) -c 'import optuna; print(optuna.__version__)')"
	@PYTHONPATH=$(OPTUNA_OLDEST_DIR)$${PYTHONPATH:+:$$PYTHONPATH} $(PY) -m pytest -n $(PYTEST_WORKERS) -q -p no:cacheprovider tests/store

$(OPTUNA_OLDEST_STAMP): pyproject.toml | $(PY)
	rm -rf $(OPTUNA_OLDEST_DIR)
	$(PY) -m pip install -q --no-deps --target $(OPTUNA_OLDEST_DIR) 'optuna==$(OPTUNA_OLDEST).*'
	touch $@

lint: install
	$(VENV)/bin/ruff check nas search_spaces proxies supernets dashboard tests benchmarks
	$(VENV)/bin/mypy nas/config.py nas/architecture.py nas/registry.py nas/store

bench: install
	$(PY) benchmarks/gnn_cora.py

clean:
	rm -rf $(VENV) nas.db* exported .pytest_cache
