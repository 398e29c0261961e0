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

.PHONY: install quickstart test lint bench clean chromium

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

test: install chromium
	@bash .ci/with-postgres.sh $(PY) -m pytest -n $(PYTEST_WORKERS) -q

lint: install
	$(VENV)/bin/ruff check nas search_spaces proxies supernets dashboard tests benchmarks
	$(VENV)/bin/mypy nas/config.py nas/architecture.py nas/registry.py nas/store

bench: install
	$(PY) benchmarks/gnn_cora.py

clean:
	rm -rf $(VENV) nas.db* exported .pytest_cache
