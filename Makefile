# imgqueue. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Every package of the repository, editable: the services, the client and the development harness.
PACKAGES := -e shared -e client -e services/api -e services/worker -e services/tester -e dev
STAMP := $(VENV)/.installed
WORKERS ?= 3
API_PORT ?= 8000
PYTEST_ARGS ?=

# testcontainers against a local engine, without its reaper container, over loopback.
export TESTCONTAINERS_RYUK_DISABLED ?= true
export TESTCONTAINERS_CONNECTION_MODE ?= docker_host
export TC_HOST ?= 127.0.0.1

# Plain docker compose: it reads .env (yours, plus the base images `make images` writes into it).
# STORAGE=s3 adds the object store (docker-compose.s3.yml) and keeps every file there, not in volumes.
STORAGE ?= local
# MONITORING=1 adds a Prometheus (docker-compose.monitoring.yml) scraping the API with the alert rules loaded.
MONITORING ?=
export MONITORING
COMPOSE = docker compose -f docker-compose.yml $(if $(filter s3,$(STORAGE)),-f docker-compose.s3.yml) \
  $(if $(filter 1,$(MONITORING)),-f docker-compose.monitoring.yml)

.PHONY: monitoring-check help install test test-slow lint generate docs dev samples clean bench bench-quick images build up down logs ps \
        scale test-upload integration-test down-volumes swarm-up swarm-down k8s-validate

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt shared/pyproject.toml client/pyproject.toml services/api/pyproject.toml \
          services/worker/pyproject.toml services/tester/pyproject.toml dev/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt $(PACKAGES)
	touch $@

install: $(STAMP) ## create .venv with the services and the test tools

test: $(STAMP) ## the fast suite (under 5 minutes): real redis-server (or a Redis container), gunicorn and workers
	$(PY) -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

test-slow: $(STAMP) ## the slow tests: API fuzzing (schemathesis), Pillow's own test images, Redis failover
	$(PY) -m pytest -m "slow and not integration" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy, and the generated files up to date
	$(VENV)/bin/ruff check shared client services dev tests benchmarks scripts deploy
	$(VENV)/bin/mypy shared/imgqueue client/imgqueue_client services/api/imgqueue_api services/worker/imgqueue_worker \
	  services/tester/imgqueue_tester dev/imgqueue_dev benchmarks
	$(PY) -m imgqueue_dev.generate --check
	$(MAKE) --no-print-directory monitoring-check

monitoring-check: ## the Prometheus rules: promtool checks them and runs their unit tests (deploy/monitoring)
	@if command -v promtool >/dev/null; then \
	  promtool check rules deploy/monitoring/rules.yml && \
	  (cd deploy/monitoring && promtool test rules tests.yml); \
	elif [ -n "$$CI" ]; then echo "promtool is missing (apt-get install prometheus)"; exit 1; \
	else echo "monitoring-check: promtool is not installed (apt-get install prometheus): skipped"; fi

generate: $(STAMP) ## regenerate .env.example, docs/settings.md and the status lists from their definitions
	$(PY) -m imgqueue_dev.generate

dev: $(STAMP) ## run redis-server, the API (127.0.0.1:$$API_PORT) and workers in the foreground; Ctrl-C stops all
	$(PY) -m imgqueue_dev --api-port $(API_PORT) --workers $(or $(N),$(shell nproc))

samples: $(STAMP) ## generate 50 varied sample images into samples/
	$(PY) -m imgqueue_tester.samples samples --count 50

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(BENCH_STAMP) ## benchmarks side by side with sharp (the Node demo), plain pyvips, a raw Redis loop and RQ (BENCH_PHOTOS=folder)
	$(PY) -m benchmarks

bench-quick: $(BENCH_STAMP) ## the same benchmark code on a tiny set, in under a minute (checks nothing about speed)
	$(PY) -m benchmarks --quick

clean: ## remove the venv, caches and local data
	rm -rf $(VENV) data samples build .pytest_cache .mypy_cache .ruff_cache

images: ## choose base images (official ones, or built here where no registry is reachable) and write them into .env
	scripts/images.sh

build: images ## build the api, worker and tester images (one Dockerfile, a target each)
	$(COMPOSE) --profile test build

up: build ## build, start with $$WORKERS (3) workers, wait until healthy, print the URL (STORAGE=s3: object store)
	$(COMPOSE) up -d --wait --wait-timeout 180 --scale worker=$(WORKERS)
	@echo "imgqueue is up: API http://127.0.0.1:$(API_PORT)  (make logs, make ps, make test-upload, make down)"

down: ## stop and remove the containers (volumes are kept; make down-volumes removes them)
	$(COMPOSE) --profile test down --remove-orphans

down-volumes: ## stop everything and delete the volumes (uploads, outputs, Redis data)
	$(COMPOSE) --profile test down --remove-orphans --volumes

logs: ## follow the logs of every service
	$(COMPOSE) logs -f --tail 100

ps: ## list the containers and their health
	$(COMPOSE) ps

scale: ## change the number of workers: make scale N=5
	$(COMPOSE) up -d --wait --no-recreate --scale worker=$(N)

test-upload: ## run the tester container: generated samples, or SAMPLES_DIR=/path/to/images; fails if a job fails
	@$(COMPOSE) ps --status running --services 2>/dev/null | grep -qx api || $(MAKE) --no-print-directory up
	@# The exit code is read from the container: `compose run` reports 0 whatever it returned on Docker 20.10.
	@name=imgqueue-tester-$$$$; \
	$(COMPOSE) --profile test run --name $$name $(if $(SAMPLES_DIR),-v $(abspath $(SAMPLES_DIR)):/samples:ro) \
	  $(if $(IMGQUEUE_TOKEN),-e IMGQUEUE_TOKEN) tester \
	  --api http://api:8000 --timeout 300 $(if $(SAMPLES_DIR),--images /samples,--generate 30); \
	code=$$(docker inspect -f '{{.State.ExitCode}}' $$name); docker rm -f $$name >/dev/null; \
	echo "tester exit code: $$code"; exit $$code

swarm-up: ## deploy on a Docker Swarm (docker swarm init first): the stack rendered from the compose files
	$(MAKE) --no-print-directory build STORAGE=s3 MONITORING=1
	@mkdir -p build
	python3 deploy/swarm/stack.py > build/stack.json
	docker stack deploy --compose-file build/stack.json imgqueue
	@echo "deployed the stack imgqueue: docker stack services imgqueue; docker service scale imgqueue_worker=N"

swarm-down: ## remove the Swarm stack (its volumes stay: docker volume ls)
	docker stack rm imgqueue

k8s-validate: $(STAMP) ## render the Kubernetes overlays and validate them offline (no cluster needed)
	$(PY) deploy/kubernetes/validate.py

integration-test: $(STAMP) ## the compose stack under testcontainers: scaling, chaos, Redis restart, two hosts, swarm
	$(MAKE) --no-print-directory build STORAGE=s3 MONITORING=1
	$(PY) -m pytest -m integration tests/integration $(PYTEST_ARGS)

DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP) requirements-docs.txt
	$(PY) -m pip install --quiet -r requirements-docs.txt
	touch $@

docs: $(DOCS_STAMP) ## build the documentation site (docs/ → build/site/) strictly: a broken link fails
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
