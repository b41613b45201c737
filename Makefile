# AlphaLoop: `make run` serves the app on the embedded default, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
DATABASE_URL_TEST ?= mysql://root@127.0.0.1:3306/test
REDIS_URL_TEST ?= redis://127.0.0.1:6379/15
APT_PACKAGES := pkg-config libmariadb-dev
export DATABASE_URL_TEST REDIS_URL_TEST

.PHONY: run test screenshots test-embedded test-services install install-dev system-deps browser-deps migrate bench clean

run: install var/local.env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap
	$(PY) manage.py serve --port $(PORT)

test: install-dev browser-deps
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run
	$(MAKE) --no-print-directory test-embedded
	@if $(PY) scripts/check_services.py; then \
		$(MAKE) --no-print-directory test-services; \
	elif [ "$$CI" = "true" ]; then \
		echo "CI=true: the MariaDB + Redis run is required but the services do not answer" >&2; exit 1; \
	else \
		echo "Skipping the MariaDB + Redis run: services not reachable."; \
	fi

test-embedded:
	@echo "== test suite on the embedded default (SQLite, in-memory channel layer, eager Celery) =="
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest

test-services:
	@echo "== test suite on MariaDB + Redis =="
	DATABASE_URL=$(DATABASE_URL_TEST) REDIS_URL=$(REDIS_URL_TEST) ALPHALOOP_SERVICES_RUN=1 $(PY) -m pytest

# System libraries that mysqlclient needs to build; installed with apt when missing.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Debian's Chromium for the Playwright browser tests (a browser download cannot work here).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "Installing chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

$(VENV)/.installed: requirements.txt | system-deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Generated secrets for the local embedded run (never committed: var/ is ignored).
var/local.env:
	mkdir -p var
	$(PY) -c "import secrets; print(f'SECRET_KEY={secrets.token_urlsafe(50)}'); print(f'JWT_SIGNING_KEY={secrets.token_urlsafe(50)}')" > $@
	chmod 600 $@

screenshots: install-dev browser-deps
	SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest tests/browser -q

bench: install-dev
	$(PY) benchmarks/factors_bench.py
	$(PY) benchmarks/backtest_bench.py

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache
