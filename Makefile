# imgqueue. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PACKAGES := -e shared -e services/api -e services/worker -e services/tester
STAMP := $(VENV)/.installed
WORKERS ?= 3
API_PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help install test lint dev samples clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt shared/pyproject.toml services/api/pyproject.toml services/worker/pyproject.toml services/tester/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt $(PACKAGES)
	touch $@

install: $(STAMP) ## create .venv with the services and the test tools

test: $(STAMP) ## the fast suite: real redis-server (or a Redis container), gunicorn and workers
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check shared services tests
	$(VENV)/bin/mypy shared/imgqueue services/api/imgqueue_api services/worker/imgqueue_worker services/tester/imgqueue_tester

dev: $(STAMP) ## run redis-server, the API (127.0.0.1:$$API_PORT) and workers in the foreground; Ctrl-C stops all
	$(PY) -m imgqueue.local --api-port $(API_PORT) --workers $(or $(N),$(shell nproc))

samples: $(STAMP) ## generate 50 varied sample images into samples/
	$(PY) -m imgqueue.samples samples --count 50

clean: ## remove the venv, caches and local data
	rm -rf $(VENV) data samples .pytest_cache .mypy_cache .ruff_cache
