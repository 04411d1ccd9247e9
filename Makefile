# The two commands of the README: `make run` (set up + serve the embedded default) and `make test`; and `make stack`,
# the production shape on this machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers, one per core of the 2-core CI machine. Each has its own database, and its own Redis database:
# TEST_REDIS_URL's number + 1 + the worker's index, so keep those within the server's 16. `worksteal` hands out tests
# in chunks and lets an idle worker take the rest of a busy one's, so one long test at the end costs no more than
# itself (`loadgroup` would not group anything under pytest 9: xdist sets the dead `_nodeid`).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal --durations=15
COVERAGE := --cov=src/myhibachi --cov-branch --cov-report=
# With PostgreSQL and Redis configured, their pass (the production path) measures coverage (measuring doubles a pass's
# time, and the other pass runs the same tests) and alone runs the tests that would do the same on either pass: the
# browser tests and the CLI's (a SQLite file of their own). The browser tests and the route sweeps (the permission
# matrix, schemathesis: every route again and again) run apart, unmeasured: the routes' own tests measure what they
# call, and tracing them cost a third of CI's time (coverage follows SQLAlchemy's greenlets, which is not cheap).
# Without PostgreSQL, the SQLite pass does all of it.
ifdef TEST_DATABASE_URL
SQLITE_PASS := -m "not browser and not own_sqlite"
else
SQLITE_PASS := $(COVERAGE)
endif
# $(call timed,label,command): run it, then say how long it took (and keep its exit status).
timed = (start=$$(date +%s); $(2); status=$$?; echo "== $(1): $$(( $$(date +%s) - start )) s"; exit $$status)

.PHONY: run stack test test-fast install lint audit clean

$(STAMP): pyproject.toml
	@$(call timed,install,test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
		$(BIN)/python -m pip install --quiet --upgrade pip && \
		$(BIN)/python -m pip install --quiet -e '.[dev]' && touch $(STAMP))

install: $(STAMP)

run: install
	$(BIN)/myhibachi migrate
	$(BIN)/myhibachi seed-demo
	$(BIN)/myhibachi serve

# `make stack`: PostgreSQL + Redis + APP_PROCESSES app processes + a taskiq worker + the scheduler, on loopback, from
# the Procfile (honcho; Ctrl-C stops them all). DATABASE_URL / REDIS_URL default to a database of its own on the local
# PostgreSQL (created and migrated when missing) and one of the local Redis's databases.
PORT ?= 8000
APP_PROCESSES ?= 2
STACK_DATABASE_URL := postgresql+asyncpg://postgres@127.0.0.1:5432/myhibachi
STACK_REDIS_URL := redis://127.0.0.1:6379/2
stack: install
	export DATABASE_URL="$${DATABASE_URL:-$(STACK_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(STACK_REDIS_URL)}" \
		BASE_URL="$${BASE_URL:-http://127.0.0.1:$(PORT)}" PERIODIC_IN_SCHEDULER=true APP_PROCESSES=$(APP_PROCESSES) \
		PATH="$(CURDIR)/$(BIN):$$PATH" && \
	myhibachi migrate --create-database && \
	exec honcho --procfile Procfile start --port $(PORT)

# The suite runs on SQLite + in-process services, then again on PostgreSQL + Redis when TEST_DATABASE_URL /
# TEST_REDIS_URL are set.
test: install
	@rm -f .coverage .coverage.*
	@echo "== tests on SQLite, in-process cache and jobs =="
	@$(call timed,SQLite pass,env -u TEST_DATABASE_URL -u TEST_REDIS_URL $(PYTEST) $(SQLITE_PASS))
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== tests on PostgreSQL ($$TEST_DATABASE_URL) and Redis ($${TEST_REDIS_URL:-unset}) =="; \
		$(call timed,PostgreSQL and Redis pass,$(PYTEST) $(COVERAGE) -m "not browser and not sweep"); pass=$$?; \
		echo "== browser and route-sweep tests on PostgreSQL and Redis, unmeasured =="; \
		$(call timed,browser and sweep tests,$(PYTEST) -m "browser or sweep"); unmeasured=$$?; \
		[ $$pass -eq 0 ] && [ $$unmeasured -eq 0 ]; \
	fi
	@$(call timed,coverage report,$(BIN)/coverage report --fail-under=90)

# The quick loop while working: SQLite, no browser, no coverage.
test-fast: install
	@$(call timed,fast tests,env -u TEST_DATABASE_URL -u TEST_REDIS_URL $(PYTEST) -m "not browser")

lint: install
	$(BIN)/ruff check src tests

# Every installed package against the vulnerability databases: needs their network (CI machines here have none).
audit: install
	$(BIN)/python -m pip install --quiet -e '.[audit]'
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

clean:
	rm -rf $(VENV) var .coverage .pytest_cache
