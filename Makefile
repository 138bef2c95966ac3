# Trợ lý Thủ tục. `make run` and `make test` do their own setup on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
RASA_VENV := .venv-rasa
VAR := var
PIP_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PIP := pip install --quiet --disable-pip-version-check --progress-bar off

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)

APP_STAMP := $(VENV)/.installed
RASA_STAMP := $(RASA_VENV)/.installed
MODEL_STAMP := $(VAR)/models/multilingual-e5-small/.converted
RASA_MODEL_STAMP := $(VAR)/rasa-models/.trained
# Chart.js for the console's analytics page, from the npm package pinned in web/package-lock.json.
CHART_JS := connectors/console/static/vendor/chart.umd.js
# Every training file but the end-to-end test stories (training_data/tests); new files are picked up.
TRAINING_DATA := $(filter-out training_data/tests/%,$(wildcard training_data/*.yml)) training_data/lookups
RASA_SOURCES := $(shell find bot training_data -type f \( -name '*.yml' -o -name '*.yaml' -o -path 'bot/components/*' -o -path 'bot/data/*' \) 2>/dev/null)

.PHONY: help setup setup-app setup-rasa model index train browser-deps test test-unit test-integration \
        test-browser run bench rerank lint format lock-app clean haproxy-deps compose-deps compose-check \
        test-scale run-cluster web-deps

help:
	@echo "make run    set up everything, then start Rasa and the app (http://127.0.0.1:8000)"
	@echo "make test   set up everything, then run every check"
	@echo "make bench  search, NLU and chat benchmarks"
	@echo "make test-scale  2 app + 2 Rasa replicas behind haproxy, one of each killed mid-run (CI runs it after make test)"
	@echo "make run-cluster  APPS=2 RASAS=2 replicas behind haproxy (needs TTHC_DATABASE_URL etc., see docker/README.md)"
	@echo "make lint   ruff"

## ---- setup ---------------------------------------------------------------------------------
setup: setup-app setup-rasa model index web-deps

setup-app: $(APP_STAMP)
$(APP_STAMP): requirements/app.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/$(PIP) "pip==24.0"
	# The CPU wheel first: a bare torch requirement would pull gigabytes of CUDA packages.
	$(VENV)/bin/$(PIP) $(PIP_LINKS) torch==2.13.0
	$(VENV)/bin/$(PIP) $(PIP_LINKS) -r requirements/app.lock
	$(VENV)/bin/$(PIP) --no-deps --no-build-isolation -e .
	touch $@

setup-rasa: $(RASA_STAMP)
$(RASA_STAMP): requirements/rasa.lock
	test -x $(RASA_VENV)/bin/python || $(PYTHON) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/$(PIP) "pip==24.0"
	# Rasa 3.6 declares python<3.11; it runs on 3.11 with its dependencies pinned by hand.
	$(RASA_VENV)/bin/$(PIP) --no-deps --ignore-requires-python rasa==3.6.21 rasa-sdk==3.6.2
	$(RASA_VENV)/bin/$(PIP) --no-deps -r requirements/rasa.lock
	touch $@

model: $(MODEL_STAMP)
$(MODEL_STAMP): $(APP_STAMP) knowledge/embeddings.py
	$(VENV)/bin/tthc model convert

index: $(APP_STAMP) $(MODEL_STAMP)
	$(VENV)/bin/tthc index build

train: $(RASA_MODEL_STAMP)
$(RASA_MODEL_STAMP): $(RASA_STAMP) $(RASA_SOURCES)
	mkdir -p $(VAR)/rasa-models
	# Test stories (training_data/tests) stay out of training.
	nice $(RASA_VENV)/bin/rasa train --config bot/config.yml --domain bot/domain \
		--data $(TRAINING_DATA) \
		--out $(VAR)/rasa-models --fixed-model-name tthc
	touch $@

# npm ci installs exactly the lock (integrity hashes checked); the app serves the copied UMD build.
web-deps: $(CHART_JS)
$(CHART_JS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	mkdir -p $(dir $@)
	cp web/node_modules/chart.js/dist/chart.umd.js $@

browser-deps:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

haproxy-deps:
	@test -x /usr/sbin/haproxy || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }

compose-deps:
	@command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }

## ---- checks --------------------------------------------------------------------------------
lint: $(APP_STAMP)
	$(VENV)/bin/ruff check .

format: $(APP_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The scale-out test (tests/scale) is its own target: .ci/run runs it after this one.
test: setup train browser-deps compose-check lint
	$(RASA_VENV)/bin/rasa data validate --config bot/config.yml --domain bot/domain --data training_data
	# End-to-end test stories (training_data/tests): any wrong intent or action fails.
	$(RASA_VENV)/bin/rasa test core --model $(VAR)/rasa-models/tthc.tar.gz --stories training_data/tests \
		--fail-on-prediction-errors --no-plot --out $(VAR)/rasa-test
	$(RASA_VENV)/bin/python -m pytest tests/rasa
	$(VENV)/bin/pytest --ignore=tests/scale

# docker/compose.yml as Debian's docker-compose reads it (no engine needed); the secrets are dummies.
compose-check: compose-deps
	cd docker && TTHC_RASA_TOKEN=check TTHC_ACTIONS_SECRET=check TTHC_SECRET_KEY=check \
		docker-compose -f compose.yml config -q

# 2 app + 2 Rasa replicas behind haproxy, the local PostgreSQL and Redis; see tests/scale.
test-scale: setup train haproxy-deps
	$(VENV)/bin/pytest tests/scale -s

test-unit: setup
	$(VENV)/bin/pytest tests/unit

test-integration: setup train
	$(VENV)/bin/pytest tests/integration

test-browser: setup train browser-deps
	$(VENV)/bin/pytest tests/browser

## ---- run and measure -----------------------------------------------------------------------
run: setup train
	$(VENV)/bin/python -m connectors.run

APPS ?= 2
RASAS ?= 2
run-cluster: setup train haproxy-deps
	$(VENV)/bin/python -m connectors.cluster --apps $(APPS) --rasas $(RASAS)

bench: setup train
	$(VENV)/bin/python -m benchmarks

# Retrain the search reranker and its confidence (knowledge/data/reranker.json, committed).
rerank: setup
	$(VENV)/bin/python -m knowledge.rerank

## ---- maintenance ---------------------------------------------------------------------------
# Re-resolve the app lock from requirements/app.in (needs the package registry).
lock-app:
	rm -rf /tmp/tthc-lock && $(PYTHON) -m venv /tmp/tthc-lock
	/tmp/tthc-lock/bin/$(PIP) "pip==24.0" && /tmp/tthc-lock/bin/$(PIP) $(PIP_LINKS) torch==2.13.0
	/tmp/tthc-lock/bin/$(PIP) $(PIP_LINKS) -r requirements/app.in
	/tmp/tthc-lock/bin/pip freeze --exclude-editable | grep -v '^torch==' > requirements/app.lock

clean:
	rm -rf $(VAR) .pytest_cache .ruff_cache web/node_modules $(dir $(CHART_JS))
