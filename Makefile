# The two commands of the README: `make run` (set up + serve the embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers, one per core of the 2-core CI machine. Each has its own database, and its own Redis database:
# TEST_REDIS_URL's number + 1 + the worker's index, so keep those within the server's 16. `--dist load` (the default)
# hands out tests by index: `loadgroup` would not group anything under pytest 9 (xdist sets the dead `_nodeid`).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest --cov=src/myhibachi --cov-branch --cov-report= -p no:cacheprovider \
	-n $(TEST_WORKERS) --dist load

.PHONY: run test install lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/myhibachi migrate
	$(BIN)/myhibachi seed-demo
	$(BIN)/myhibachi serve

# The suite runs on SQLite + in-memory services, then again on PostgreSQL + Redis when
# TEST_DATABASE_URL / TEST_REDIS_URL are set; coverage is combined over both runs.
test: install
	@rm -f .coverage .coverage.*
	@echo "== tests on SQLite, in-process cache and jobs =="
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL $(PYTEST)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== tests on PostgreSQL ($$TEST_DATABASE_URL) and Redis ($${TEST_REDIS_URL:-unset}) =="; \
		$(PYTEST) --cov-append; \
	fi
	$(BIN)/coverage report --fail-under=90

lint: install
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) var .coverage .pytest_cache
