# The README's commands. `make demo` starts StreamCity embedded; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo port-free test check lint jstest venv venv-dev migrate topics clean

# The local demo: DEBUG off, plain http on 127.0.0.1, a secret key generated in var/ (STREAMCITY_DEMO).
demo: export STREAMCITY_DEMO ?= true
demo: port-free venv migrate ## start StreamCity embedded (no Kafka, Redis or PostgreSQL) on $(HOST):$(PORT)
	$(PY) manage.py runstreamcity --host $(HOST) --port $(PORT)

port-free: # before anything else: a second `make demo` stops here, with one line and exit status 1
	@$(PYTHON) -m streamcity.netcheck $(HOST) $(PORT)

test: ## run the whole test suite; starts PostgreSQL, Redis, Kafka and Chromium as needed
	bash tests/run.sh

check: lint jstest ## the fast lane: lint, JS unit tests and every test that needs no service (SQLite, in-process bus)
	env -u DATABASE_URL -u TEST_DATABASE_URL -u TEST_KAFKA_BOOTSTRAP_SERVERS -u TEST_REDIS_URL -u TEST_CHROMIUM \
		STREAMCITY_REQUIRE_SERVICES=false $(PY) -m pytest -m "not services and not slow" -n 2 -q

lint: venv-dev ## ruff and the import layers (import-linter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

jstest: ## the live map's JavaScript unit tests (Node's test runner)
	@if ls tests/js/*.test.mjs >/dev/null 2>&1; then node --test tests/js/; else echo "no JS unit tests"; fi

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(VENV)/.installed $@

migrate: venv
	$(PY) manage.py migrate --no-input -v0

topics: venv ## create the Kafka topics (with KAFKA_BOOTSTRAP_SERVERS set)
	$(PY) manage.py createtopics

clean:
	rm -rf var/ .cache/services .pytest_cache
