# papersift: `make demo` and `make test` set everything up themselves (.venv, install).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SOURCES := client/papersift/client core server training tests scripts bench deploy

.PHONY: help venv demo digest-preview test lint format typecheck proto proto-check pytest bench-quality clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install papersift with every extra

demo: $(STAMP)  ## ingest, serve, record, rank and show, on SQLite + the in-process cache
	$(PY) scripts/demo.py

digest-preview: $(STAMP)  ## render a real digest of the demo data to .demo/digest-preview/ (HTML, PNG)
	$(PY) -m scripts.digest_preview

test: lint typecheck proto-check pytest  ## every check: ruff, mypy, proto drift, pytest

lint: $(STAMP)  ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)  ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)  ## mypy --strict on our code (generated code excluded)
	$(VENV)/bin/mypy $(SOURCES)

proto: $(STAMP)  ## regenerate client/papersift/v1 from protos/
	$(PY) scripts/gen_protos.py

proto-check: $(STAMP)  ## fail if the checked-in generated code differs from protos/
	$(PY) scripts/gen_protos.py --check

pytest: $(STAMP)  ## the test suite against real Redis, PostgreSQL and SQLite
	$(PY) -m pytest $(PYTEST_ARGS)

bench-quality: $(STAMP)  ## citeulike-t cold-start benchmark, all methods side by side (BENCH_ARGS=--quick)
	$(PY) -m bench.quality $(BENCH_ARGS)

.PHONY: bench-speed
bench-speed: $(STAMP)  ## RPC rows x3 next to the floor, Redis hit row, workers, precompute, training, issue 12 goals (needs Redis); < 15 min (BENCH_ARGS=--quick: < 6)
	$(PY) -m bench.speed $(BENCH_ARGS)

.PHONY: bench-content-refit
bench-content-refit: $(STAMP)  ## cached RankPapers latency while the content model refits, on vs off; ~2 min (BENCH_ARGS=--quick)
	$(PY) -m bench.content_refit $(BENCH_ARGS)

clean:  ## remove the virtualenv, caches and demo state
	rm -rf $(VENV) .demo .mypy_cache .ruff_cache .pytest_cache
