"""Every documented environment variable: the settings of each service (read from their classes) and the
variables only Docker Compose reads (defined here: no service reads them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

from imgqueue.config import Settings
from imgqueue_api.settings import ApiSettings
from imgqueue_worker.settings import WorkerSettings

COMPOSE = "Docker Compose only"
READERS: list[tuple[type[Settings], str]] = [(Settings, "every service"), (ApiSettings, "the API"),
                                             (WorkerSettings, "the workers")]


@dataclass(frozen=True)
class Variable:
    """One documented environment variable: a setting, or a variable only docker compose reads."""

    name: str
    default: str
    doc: str
    group: str
    read_by: str
    compose: str | None = None  # docker-compose.yml's fallback, where it differs from the default on purpose
    secret: bool = False


def settings_variables() -> Iterator[Variable]:
    seen: set[str] = set()
    for cls, reader in READERS:
        for f in fields(cls):
            if f.name in seen:
                continue
            seen.add(f.name)
            yield Variable(f.name.upper(), str(f.default), f.metadata["doc"], f.metadata["group"], reader,
                           f.metadata["compose"], f.metadata["secret"])


def _compose(name: str, default: str, doc: str) -> Variable:
    return Variable(name, default, doc, COMPOSE, "docker compose")


COMPOSE_VARIABLES = (
    _compose("WORKER_REPLICAS", "3", "worker containers (`docker compose up --scale worker=N` overrides it)"),
    _compose("WORKER_STOP_GRACE", "40s", "time docker gives a stopping worker before SIGKILL (longer than "
             "`SHUTDOWN_TIMEOUT`)"),
    _compose("REDIS_APPENDFSYNC", "always", "Redis AOF fsync policy: `always` (no acknowledged job lost on a "
             "crash) or `everysec` (faster)"),
    _compose("REDIS_MAXMEMORY", "256mb", "Redis' memory ceiling; when full, uploads get 503 `store_full` (no job "
             "is ever evicted)"),
    _compose("REDIS_MEM_LIMIT", "512m", "memory limit of the Redis container"),
    _compose("REDIS_PASSWORD_SECRET", "./secrets/redis_password", "the file holding Redis' password, handed to "
             "Redis, the API and the workers as a secret (`make images` writes a random one; set `REDIS_PASSWORD` "
             "before it runs for your own)"),
    _compose("API_MEM_LIMIT", "1g", "memory limit of the API container"),
    _compose("API_TMP_SIZE", "512m", "size of the API container's /tmp (in memory), where uploads are spooled "
             "while they arrive"),
    _compose("WORKER_MEM_LIMIT", "2g", "memory limit of each worker container (at least WORKER_CONCURRENCY × "
             "WORKER_MEMORY_LIMIT)"),
    _compose("S3_BUCKET", "imgqueue", "bucket of the bundled object store (`make up STORAGE=s3`)"),
    _compose("OBJECTSTORE_BIND", "127.0.0.1", "interface the bundled object store is published on"),
    _compose("OBJECTSTORE_PORT", "9000", "port the bundled object store is published on"),
    _compose("REDIS_BIND", "127.0.0.1", "with docker-compose.hub.yml: interface Redis is published on, for "
             "workers on other machines"),
    _compose("REDIS_PORT", "6379", "with docker-compose.hub.yml: port Redis is published on"),
    _compose("IMGQUEUE_IMAGES", "auto", "`make images`: `official` base images from a registry, `local` ones "
             "built here, or `auto`"),
    _compose("PYTHON_IMAGE", "python:3.12-slim", "base image of the services (`make images` writes it into .env)"),
    _compose("REDIS_IMAGE", "redis:7-alpine", "Redis image (`make images` writes it into .env)"),
    _compose("PIP_INSTALL_ARGS", "", "extra pip arguments in the image build (`make images` writes them into .env)"),
    _compose("IMGQUEUE_ENV_FILE", ".env", "the env file compose hands to the services"),
    _compose("PROMETHEUS_IMAGE", "prom/prometheus:v2.53.0", "base of the bundled Prometheus (`make up MONITORING=1`; "
             "`make images` writes it into .env: Debian's package where no registry is reachable)"),
    _compose("PROMETHEUS_BIND", "127.0.0.1", "interface the bundled Prometheus is published on"),
    _compose("PROMETHEUS_PORT", "9090", "port the bundled Prometheus is published on"),
)


def all_variables() -> list[Variable]:
    return [*settings_variables(), *COMPOSE_VARIABLES]
