# The CRM's everyday commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock requirements.lock | cksum | cut -d' ' -f1)
CHROMIUM := /usr/bin/chromium
DEV_ENV := DEBUG=true
TEST_SETTINGS := DJANGO_SETTINGS_MODULE=crm_site.test_settings

.DEFAULT_GOAL := help
.PHONY: help install run test lint format worker beat bench chromium lock messages migrate

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-dev.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.lock
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies

migrate: install ## Apply database migrations
	$(DEV_ENV) $(PY) manage.py migrate --noinput

run: migrate ## Set up and run the CRM with demo data: web on :8000, Celery worker and beat
	$(DEV_ENV) $(PY) manage.py seed_demo --if-empty
	$(DEV_ENV) $(PY) scripts/run_dev.py

worker: install ## Run a Celery worker only
	$(DEV_ENV) $(PY) -m celery -A crm_site worker --loglevel=INFO

beat: install ## Run Celery beat only (schedules from the database)
	$(DEV_ENV) $(PY) -m celery -A crm_site beat --loglevel=INFO --pidfile=

chromium: ## Install Debian's Chromium for browser tests when missing (as root)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium for the browser tests (apt-get)…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium fonts-liberation fonts-noto-cjk >/dev/null || echo "Could not install Chromium: browser tests will be skipped."; \
	else echo "Chromium is missing and this is not root: browser tests will be skipped (E2E_REQUIRED=1 makes them fail)."; fi

test: install chromium ## Set up and run the whole test suite (DATABASE_URL, else SQLite)
	$(TEST_SETTINGS) $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Fix what ruff can fix and format the code
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install ## Benchmarks: seed 100,000 customers into DATABASE_URL and time the pages
	$(PY) bench/run.py $(BENCH_ARGS)

messages: install ## Update and compile the translation catalogues
	$(DEV_ENV) $(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=node_modules --ignore=static/vendor
	$(DEV_ENV) $(PY) manage.py compilemessages --ignore=.venv

lock: install ## Re-pin requirements.lock and requirements-dev.lock from the top-level files
	$(VENV)/bin/uv pip compile --quiet requirements.txt -o requirements.lock --python-version 3.11
	$(VENV)/bin/uv pip compile --quiet requirements-dev.txt -o requirements-dev.lock --python-version 3.11
