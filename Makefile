# deploylens: `make demo` and `make test` do all set-up on a fresh machine (Python 3.11 + make).
SHELL := /bin/bash
PYTHON ?= python3.11
# uv from PATH, else the one pip installs as a module of $(PYTHON).
UV ?= $(shell command -v uv >/dev/null 2>&1 && echo uv || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen --python $(PYTHON)
ARGS ?=
# Test processes: the suite is mostly whole refreshes (dbt, DuckDB, subprocesses); two workers on two cores
# halve its wall time. Tests of one module stay in one worker (their module fixtures build orgs once); modules
# start longest first (tests/conftest.py, LONGEST_FIRST), not in xdist's order of most tests first.
TEST_WORKERS ?= 2

.PHONY: install demo test bench lint clean

# Bytecode is compiled once at install: every refresh, dbt run and app start then skips compiling the
# stack's sources (seconds per process, and all of it where PYTHONDONTWRITEBYTECODE is set).
install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --python $(PYTHON) --quiet --compile-bytecode

demo: install
	@$(RUN) deploylens demo $(ARGS)

test: install
	@$(RUN) pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder $(ARGS)

bench: install
	@$(RUN) python -m benchmarks $(ARGS)

lint: install
	@$(RUN) ruff check . && $(RUN) ruff format --check .

clean:
	rm -rf .deploylens transform/target
