# The README's commands. `make demo` starts StreamCity embedded; `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo port-free test venv venv-dev migrate topics clean

demo: port-free venv migrate ## start StreamCity embedded (no Kafka, Redis or PostgreSQL) on $(HOST):$(PORT)
	$(PY) manage.py runstreamcity --host $(HOST) --port $(PORT)

port-free: # before anything else: a second `make demo` stops here, with one line and exit status 1
	@$(PYTHON) -m streamcity.netcheck $(HOST) $(PORT)

test: ## run the whole test suite; starts PostgreSQL, Redis, Kafka and Chromium as needed
	bash tests/run.sh

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
