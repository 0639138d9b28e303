# The two commands of the README: `make run` (demo on SQLite) and `make test` (PostgreSQL + Redis).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)

# What `make test` talks to; the test database itself (test_crmo_registry) is created by pytest.
# The suite runs in two processes (pytest-xdist), each with its own test database
# (test_crmo_registry_gw0, _gw1) and Redis database (REDIS_URL's + N for worker gwN,
# tests/conftest.py: 12 and 13 here), each given whole test files (--dist loadfile: a module's
# seeded demo, browser and Celery worker are set up once, in one process): 7 min against about
# 20 in one, green in full twice (2026-12-03 and -04). `make test TEST_WORKERS=0` runs one process.
TEST_WORKERS ?= 2
PYTEST_WORKERS = -n $(TEST_WORKERS) --dist loadfile
TEST_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/crmo_registry \
	REDIS_URL=redis://127.0.0.1:6379/12

.PHONY: install run test lint services browser bench bench-evaluation bench-export bench-import bench-audit bench-outcomes clean \
	test-py312 audit

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(BIN)/uv pyproject.toml uv.lock
	$(BIN)/uv sync --frozen --quiet
	touch $@

# Front-end assets (htmx, Chart.js) from npm, exactly as package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

# `make run RUN_ADDRESS=127.0.0.1:8080` serves elsewhere. The output ends with the demo logins and
# the address (runserver's production warning is hidden: this is the demo).
RUN_ADDRESS ?= 127.0.0.1:8000

# The demo whatever DATABASE_URL says: plain HTTP (no SSL redirect, no Secure cookies) and the
# fallback key are accepted (config/settings.py, "Hardening").
run: export DJANGO_DEMO_MODE ?= true
run: install
	@echo "Preparing the demo registry (the first run takes about a minute)..."
	@$(BIN)/python manage.py migrate --noinput --verbosity 0
	@$(BIN)/python manage.py seed_demo
	@$(BIN)/python manage.py refresh_course_outcomes
	@echo
	@echo "Serving the clinic at http://$(RUN_ADDRESS)/ : sign in with a login above (Ctrl-C stops it)."
	@DJANGO_RUNSERVER_HIDE_WARNING=true $(BIN)/python manage.py runserver $(RUN_ADDRESS)

services:
	bash scripts/ensure-services.sh

# Debian's Chromium, which the browser tests (tests/e2e) drive through Playwright.
browser:
	bash scripts/ensure-chromium.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

test: install services browser lint
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Python 3.12 (the image's): the same lock in its own venv, .venv-3.12, tested against its own
# database (test_crmo_registry_py312, one per worker) and Redis db (14, and 15 for the second
# worker). `make test` is 3.11, the lowest supported.
# On 3.12 CI runs the guideline engine and its properties, the clinical record and the research
# exports (the code whose results could differ with the interpreter: dates, dataclasses, pyarrow,
# FHIR); the doors (API, clinic, admin, browser) are Django's on both and stay on 3.11, so that CI
# stays inside its time. `make test-py312 PYTEST_PY312_ARGS=` runs everything.
PYTHON312 ?= $(or $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.12.*/bin/python3.12))),\
	$(shell command -v python3.12))
VENV312 := .venv-3.12
PYTEST_PY312_ARGS ?= tests/monitoring tests/registry tests/research
TEST312_ENV := DATABASE_URL=postgres://postgres@127.0.0.1:5432/crmo_registry_py312 \
	REDIS_URL=redis://127.0.0.1:6379/14

$(VENV312)/.installed: $(BIN)/uv pyproject.toml uv.lock
	@test -n "$(PYTHON312)" || { echo "error: no python3.12 found (set PYTHON312=...)" >&2; exit 1; }
	UV_PROJECT_ENVIRONMENT=$(VENV312) $(BIN)/uv sync --frozen --quiet --python $(PYTHON312)
	touch $@

test-py312: $(VENV312)/.installed node_modules/.installed services
	$(TEST312_ENV) $(VENV312)/bin/pytest $(PYTEST_WORKERS) $(PYTEST_PY312_ARGS) $(PYTEST_ARGS)

# Known vulnerabilities in uv.lock (pip-audit) and package-lock.json (npm audit --omit=dev).
# Fails (exit 1) on one; fails too, saying "INCOMPLETE", when a vulnerability service did not answer.
audit: install
	$(BIN)/python scripts/dependency_audit.py

# Not part of `make test`: a synthetic registry in its own database (crmo_bench, or
# BENCH_DATABASE_URL), then the nightly evaluation timed against a plain-psycopg floor, then the
# research exports timed against `COPY … TO STDOUT` of the same rows, at two registry sizes.
# Both rebuild crmo_bench, so `make bench` runs them one after the other (even under -j).
# `make bench N=2000` generates 2000 patients for the evaluation (default: about 100 000 courses);
# `make bench SIZES="1000 4000"` sets the export's two sizes (default 5000 and 20000 patients).
# `make bench-evaluation` or `make bench-export` runs one alone; BENCH_ARGS and EXPORT_ARGS pass
# more flags (e.g. EXPORT_ARGS="--formats csv --profile csv").
# `make bench-import` times the bulk lab import through the API (5,000 valid rows, 5,000 with
# invalid ones, 100,000 refused at the limit) in its own database, crmo_bench_import (or
# BENCH_IMPORT_DATABASE_URL); IMPORT_ARGS passes flags (e.g. IMPORT_ARGS="--runs 3").
# `make bench-audit` times the access log: a request with and without its one INSERT, and "who
# read patient X" on the array + GIN layout against a child table, in crmo_bench_audit (or
# BENCH_AUDIT_DATABASE_URL); AUDIT_ARGS passes flags (e.g. AUDIT_ARGS="--rows 100000").
BENCH_EVALUATION = $(BIN)/python -m benchmarks.evaluation $(if $(N),--patients $(N)) $(BENCH_ARGS)
BENCH_EXPORT = $(BIN)/python -m benchmarks.export $(if $(SIZES),--sizes $(SIZES)) $(EXPORT_ARGS)
BENCH_IMPORT = $(BIN)/python -m benchmarks.lab_import $(IMPORT_ARGS)
BENCH_AUDIT = $(BIN)/python -m benchmarks.audit $(AUDIT_ARGS)
# `make bench-outcomes` renders the outcomes page on a synthetic registry (20,000 patients;
# OUTCOMES_ARGS="--patients 5000 --runs 3" to change), after timing the nightly outcome refresh.
BENCH_OUTCOMES = $(BIN)/python -m benchmarks.outcomes $(OUTCOMES_ARGS)

bench: $(VENV)/.installed services
	$(BENCH_EVALUATION)
	$(BENCH_EXPORT)
	$(BENCH_IMPORT)
	$(BENCH_AUDIT)
	$(BENCH_OUTCOMES)

bench-evaluation: $(VENV)/.installed services
	$(BENCH_EVALUATION)

bench-export: $(VENV)/.installed services
	$(BENCH_EXPORT)

bench-import: $(VENV)/.installed services
	$(BENCH_IMPORT)

bench-audit: $(VENV)/.installed services
	$(BENCH_AUDIT)

bench-outcomes: $(VENV)/.installed services
	$(BENCH_OUTCOMES)

clean:
	rm -rf $(VENV) $(VENV312) node_modules data/*.sqlite3 staticfiles .pytest_cache .mypy_cache .ruff_cache
