"""Settings: the single source of every setting, its default and its meaning.

Read from the environment once, frozen, failing fast with a message naming the variable. Field ``foo_bar``
is read from ``FOO_BAR``. `.env.example` and the README's settings table are generated from this module
(``make settings``; ``make lint`` fails when they are out of date).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .spec import Limits

T = TypeVar("T")


def _setting(default: Any, doc: str, group: str, secret: bool = False, compose: str | None = None) -> Any:
    """A setting: its default, what it means, its group in the docs; ``secret`` ones are never shown, and
    ``compose`` is the value docker-compose.yml falls back to when it differs on purpose."""
    return field(default=default, metadata={"doc": doc, "group": group, "secret": secret, "compose": compose})


REDIS, LIMITS, WORKERS, JOBS, API, ACCESS, OTHER = ("Redis and files", "Limits", "Workers", "Jobs", "API", "Access",
                                                    "Other")
AUTH_MODES = ("open", "token")
IMAGING_ENGINES = ("auto", "vips", "pillow")  # vips: as auto, but the worker refuses to start without pyvips
# Numeric settings for which 0 means something (CPU count, no retries, off); every other one must be > 0.
ZERO_ALLOWED = frozenset({"worker_concurrency", "max_retries", "max_queue_depth", "upload_rate_limit",
                          "redis_min_replicas", "min_free_disk_bytes", "worker_memory_limit", "vips_threads"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True)
class Settings:
    """Every tunable of imgqueue. The ``doc`` of each field is what the README and .env.example say."""

    redis_url: str = _setting("redis://localhost:6379/0", "Redis connection (`redis://[user:password@]host:port/db`)",
                              REDIS)
    redis_password: str = _setting("", "Redis password, when not in `REDIS_URL` (compose: required; `make images` "
                                   "writes a random one into .env)", REDIS, secret=True)
    redis_sentinels: str = _setting("", "Redis Sentinel addresses (`host:port,host:port,…`): when set, the primary "
                                    "is found through them and followed after a failover (`REDIS_URL`'s host is "
                                    "then unused)", REDIS)
    redis_sentinel_master: str = _setting("mymaster", "the name the sentinels monitor the primary by", REDIS)
    redis_sentinel_password: str = _setting("", "the sentinels' own password, if they have one", REDIS, secret=True)
    redis_min_replicas: int = _setting(0, "replicas an upload's write must reach (Redis WAIT) before the API "
                                       "acknowledges it; 1 with Sentinel, so a failover loses no acknowledged job",
                                       REDIS)
    redis_replica_timeout: float = _setting(1.0, "seconds an upload waits for those replicas; past it, 503 "
                                            "`not_replicated` (the job may exist: a retry may run it twice)", REDIS)
    queue_name: str = _setting("image_jobs", "the Redis list jobs are pushed onto (the Node demo's name)", REDIS)
    upload_dir: Path = _setting(Path("data/uploads"), "where uploads are stored, named by job id", REDIS)
    output_dir: Path = _setting(Path("data/output"), "where resized images are written, named by job id", REDIS)
    storage_url: str = _setting("", "where files live: empty (the two folders above), `file:///path` (its "
                                "`uploads/` and `output/`), or `s3://bucket/prefix` (an S3-compatible store)", REDIS)
    aws_endpoint_url: str = _setting("", "the S3 endpoint (`http://objectstore:9000`, MinIO's...); empty: AWS S3 "
                                     "in `AWS_REGION`", REDIS)
    aws_region: str = _setting("us-east-1", "the S3 region", REDIS)
    aws_access_key_id: str = _setting("", "S3 credentials (the bundled object store: `make images` writes them "
                                      "into .env)", REDIS, secret=True)
    aws_secret_access_key: str = _setting("", "S3 credentials", REDIS, secret=True)
    s3_public_endpoint: str = _setting("", "an endpoint of the store that clients reach: results are then "
                                       "redirected to presigned links instead of streamed by the API", REDIS)

    max_upload_bytes: int = _setting(25 * 1024 * 1024, "largest file, in bytes", LIMITS)
    max_request_bytes: int = _setting(200 * 1024 * 1024, "largest request, in bytes (`POST /jobs` carries several "
                                      "files)", LIMITS)
    max_files_per_request: int = _setting(50, "most files in one `POST /jobs`", LIMITS)
    max_input_pixels: int = _setting(50_000_000, "largest input, width × height, read from the header before "
                                     "decoding; an animation's frames count together", LIMITS)
    max_output_pixels: int = _setting(16_800_000, "largest output, width × height (as imgproxy's default); an "
                                      "animation's frames count together", LIMITS)
    max_output_dimension: int = _setting(8192, "largest `width` or `height` a client may ask for", LIMITS)
    max_frames: int = _setting(200, "most frames in an animated GIF or WebP", LIMITS)
    max_queue_depth: int = _setting(10_000, "jobs the queue may hold; an upload past it gets 503 `queue_full` with "
                                    "`Retry-After` (0: no limit)", LIMITS)
    upload_rate_limit: int = _setting(6000, "uploads a tenant (a client address in open mode) may make per "
                                      "`UPLOAD_RATE_WINDOW`; past it, 429 with `Retry-After` (0: no limit)", LIMITS)
    upload_rate_window: float = _setting(60.0, "seconds of the upload rate limit's sliding window", LIMITS)
    max_streams_per_client: int = _setting(16, "event streams one tenant (client address in open mode) may hold "
                                           "open per API process; past it, 429", LIMITS)
    body_read_timeout: float = _setting(60.0, "seconds an upload's body may take to arrive; past it, 408", LIMITS)
    min_free_disk_bytes: int = _setting(256 * 1024 * 1024, "free space the upload folder must keep; below it, "
                                        "uploads get 507 before their body is stored (0: no check)", LIMITS)
    default_width: int = _setting(300, "width used when an upload gives neither width nor height", LIMITS)
    default_height: int = _setting(300, "height used when an upload gives neither width nor height", LIMITS)

    worker_concurrency: int = _setting(0, "worker processes per `imgqueue-worker` (0: one per CPU the container "
                                       "may use)", WORKERS)
    vips_threads: int = _setting(0, "libvips threads per worker process (0: the CPUs shared out among the worker "
                                 "processes, at least 1)", WORKERS)
    worker_prefetch: int = _setting(1, "jobs a worker process takes at once; more saves round trips on very short "
                                    "jobs but lets one process hold jobs others could run (as Celery's prefetch)",
                                    WORKERS)
    heartbeat_interval: float = _setting(5.0, "seconds between a worker's heartbeats", WORKERS)
    heartbeat_ttl: float = _setting(15.0, "a worker silent this many seconds is dead; its jobs go back to the queue",
                                    WORKERS)
    recovery_interval: float = _setting(5.0, "seconds between live workers' looks for dead ones", WORKERS)
    shutdown_timeout: float = _setting(30.0, "seconds a stopping worker may take to finish its current job", WORKERS)
    worker_memory_limit: int = _setting(1024 ** 3, "bytes of memory one worker process may allocate; a job that "
                                        "needs more fails with `out_of_memory` and the process is replaced (0: no "
                                        "limit)", WORKERS)

    max_lost: int = _setting(3, "a job whose worker died this many times fails (`worker_lost`: a poison job)", JOBS)
    max_retries: int = _setting(3, "retries of transient errors (storage I/O)", JOBS)
    retry_backoff_base: float = _setting(1.0, "retry backoff: base × 2^retries seconds, ×0.5–1.5 jitter", JOBS)
    retry_backoff_max: float = _setting(60.0, "retry backoff cap, in seconds", JOBS)
    job_time_limit: float = _setting(60.0, "seconds a job may run before it fails with `time_limit_exceeded`", JOBS)
    job_ttl: int = _setting(7 * 24 * 3600, "seconds a job record is kept after its last change (7 days)", JOBS)
    output_ttl: int = _setting(7 * 24 * 3600, "seconds an output is kept after its job is done; then its result "
                               "answers 410 `expired`", JOBS)
    sweep_interval: float = _setting(300.0, "seconds between a worker's sweeps for expired outputs and files a "
                                     "crash left behind", JOBS)
    imaging_engine: str = _setting("auto", "`auto`: libvips for the still JPEG, PNG and WebP it can take, Pillow "
                                   "for the rest (Pillow alone when pyvips is not installed); `vips`: the same, "
                                   "but refuse to start without pyvips; `pillow`: Pillow for every job", JOBS)

    api_host: str = _setting("127.0.0.1", "address gunicorn binds (the container image sets 0.0.0.0)", API)
    api_port: int = _setting(8000, "port gunicorn binds (with compose: the port published on `API_BIND`)", API)
    api_workers: int = _setting(2, "gunicorn worker processes", API)
    api_worker_class: str = _setting("gevent", "gunicorn worker class: `gevent` holds many event streams cheaply; "
                                     "`gthread` uses `API_THREADS`", API)
    api_worker_connections: int = _setting(1000, "connections per gevent process", API)
    api_threads: int = _setting(8, "threads per process (`gthread` only)", API)
    api_bind: str = _setting("", "the address clients reach the API on when it is not `API_HOST` (compose publishes "
                             "the port on it); open mode refuses any but a loopback address", API, compose="127.0.0.1")

    auth_mode: str = _setting("open", "`open`: no tokens, every caller may do everything (loopback only); `token`: "
                              "every call needs a token (`Authorization: Bearer …`)", ACCESS)
    api_tokens: str = _setting("", "tokens seeded from the environment, `tenant:role:token` separated by commas "
                               "(role `admin` or `client`); more with `imgqueue-admin tokens create`", ACCESS,
                               secret=True)
    metrics_token: str = _setting("", "a token that may read `/metrics` only (for Prometheus' scrape config)", ACCESS,
                                  secret=True)
    signing_key: str = _setting("", "key of the HMAC behind signed result links and event-stream tickets; empty: a "
                                "random key kept in Redis, shared by every API process", ACCESS, secret=True)
    result_url_ttl: int = _setting(3600, "seconds a signed result link (`resultUrl`) stays valid", ACCESS)
    stream_ticket_ttl: int = _setting(60, "seconds an event-stream ticket may be used to open a stream", ACCESS)
    allowed_origins: str = _setting("", "origins (`https://app.example.com`, comma-separated) whose pages may call "
                                    "the API from a browser; the API's own origin always may", ACCESS)
    allowed_hosts: str = _setting("", "host names the API answers to (comma-separated, `*`: any); empty: loopback "
                                  "names and `api` in open mode, any in token mode", ACCESS)

    log_level: str = _setting("INFO", "`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`", OTHER)

    def __post_init__(self) -> None:
        _check(self.queue_name != "", "QUEUE_NAME", "must not be empty")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)):
                floor_ok = value >= 0 if f.name in ZERO_ALLOWED else value > 0
                _check(floor_ok, f.name.upper(), "must be 0 or more" if f.name in ZERO_ALLOWED else
                       "must be greater than 0")
        _check(self.heartbeat_ttl > self.heartbeat_interval, "HEARTBEAT_TTL",
               f"must be longer than HEARTBEAT_INTERVAL ({self.heartbeat_interval})")
        _check(self.imaging_engine in IMAGING_ENGINES, "IMAGING_ENGINE", "must be auto, vips or pillow")
        _check(self.api_worker_class in ("gevent", "gthread", "sync"), "API_WORKER_CLASS",
               "must be gevent, gthread or sync")
        _check(self.auth_mode in AUTH_MODES, "AUTH_MODE", "must be open or token")
        _check(all(item.rpartition(":")[2].isdigit() for item in _items(self.redis_sentinels)), "REDIS_SENTINELS",
               "entries must be host:port")
        _check(all(_seed_ok(item) for item in _items(self.api_tokens)), "API_TOKENS",
               "entries must be tenant:role:token with role admin or client and a token of 16 or more characters")
        _check(self.metrics_token == "" or len(self.metrics_token) >= 16, "METRICS_TOKEN", "must be 16+ characters")
        _check(self.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, "LOG_LEVEL",
               "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")

    @property
    def limits(self) -> Limits:
        """What an image and a resize may cost, for the probe and the engines."""
        return Limits(self.max_input_pixels, self.max_frames, self.max_output_dimension, self.max_output_pixels)

    @property
    def concurrency(self) -> int:
        """Worker processes to start: the setting, or the CPUs this process may use when it is 0."""
        return self.worker_concurrency or usable_cpus()

    @property
    def threads_per_worker(self) -> int:
        """libvips threads for each worker process: the setting, or the CPUs shared out among them."""
        return self.vips_threads or max(1, usable_cpus() // self.concurrency)

    @property
    def seeded_tokens(self) -> list[tuple[str, str, str]]:
        """``API_TOKENS`` as (tenant, role, token) triples."""
        return [(t, r, tok) for t, r, tok in (item.split(":", 2) for item in _items(self.api_tokens))]

    @property
    def public_address(self) -> str:
        """Where clients reach the API: ``API_BIND`` when set, else the address gunicorn binds."""
        return self.api_bind or self.api_host

    @property
    def exposed(self) -> bool:
        """True when the API is reachable from beyond this machine."""
        return self.public_address not in LOOPBACK and not self.public_address.startswith("127.")

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(o.rstrip("/") for o in _items(self.allowed_origins))

    @property
    def hosts(self) -> frozenset[str]:
        """Host names the API answers to; empty means any."""
        hosts = frozenset(h.lower() for h in _items(self.allowed_hosts))
        if "*" in hosts or (not hosts and self.auth_mode == "token"):
            return frozenset()
        return hosts or frozenset({*LOOPBACK, "api"})

    @property
    def recovery_bound(self) -> float:
        """Upper bound, in seconds, between a worker's death and its job going back to the queue."""
        return self.heartbeat_ttl + self.recovery_interval

    @property
    def temp_file_max_age(self) -> float:
        """A temp file older than this was left by a process that died: no job runs that long."""
        return 2 * self.job_time_limit + 60

    def retry_delay(self, retries: int) -> float:
        """Seconds before retry number ``retries + 1``: exponential backoff, capped, with full jitter in
        [0.5, 1.5) x base x 2^retries."""
        delay = min(self.retry_backoff_max, self.retry_backoff_base * (2 ** retries))
        return float(delay * random.uniform(0.5, 1.5))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win over both."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = f.name.upper()
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            values[f.name] = _parse(var, raw.strip(), _PARSERS[type(f.default)])
        values.update(overrides)
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, so a child process reads back the same settings."""
        return {f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """``REDIS_SENTINELS`` as (host, port) pairs."""
        out = []
        for item in _items(self.redis_sentinels):
            host, _, port = item.rpartition(":")
            out.append((host.strip("[]") or "localhost", int(port)))
        return out

    def describe(self) -> dict[str, str]:
        """The settings as ``VARIABLE -> value`` with secrets and credentials in the Redis URL hidden."""
        out = self.to_env()
        out["REDIS_URL"] = _redact_url(self.redis_url)
        for f in fields(self):
            if f.metadata["secret"] and getattr(self, f.name):
                out[f.name.upper()] = "***"
        return out


@dataclass(frozen=True)
class Variable:
    """One documented environment variable: a setting, or a variable only docker compose reads."""

    name: str
    default: str
    doc: str
    group: str
    compose: str | None = None  # docker-compose.yml's fallback, where it differs from the default on purpose


def settings_variables() -> Iterator[Variable]:
    for f in fields(Settings):
        yield Variable(f.name.upper(), str(f.default), f.metadata["doc"], f.metadata["group"], f.metadata["compose"])


COMPOSE = "Docker Compose only"
COMPOSE_VARIABLES = (
    Variable("WORKER_REPLICAS", "3", "worker containers (`docker compose up --scale worker=N` overrides it)", COMPOSE),
    Variable("WORKER_STOP_GRACE", "40s", "time docker gives a stopping worker before SIGKILL (longer than "
             "`SHUTDOWN_TIMEOUT`)", COMPOSE),
    Variable("REDIS_APPENDFSYNC", "always", "Redis AOF fsync policy: `always` (no acknowledged job lost on a crash) "
             "or `everysec` (faster)", COMPOSE),
    Variable("REDIS_MAXMEMORY", "256mb", "Redis' memory ceiling; when full, uploads get 503 `store_full` (no job "
             "is ever evicted)", COMPOSE),
    Variable("REDIS_MEM_LIMIT", "512m", "memory limit of the Redis container", COMPOSE),
    Variable("API_MEM_LIMIT", "1g", "memory limit of the API container", COMPOSE),
    Variable("API_TMP_SIZE", "512m", "size of the API container's /tmp (in memory), where uploads are spooled "
             "while they arrive", COMPOSE),
    Variable("WORKER_MEM_LIMIT", "2g", "memory limit of each worker container (at least WORKER_CONCURRENCY × "
             "WORKER_MEMORY_LIMIT)", COMPOSE),
    Variable("S3_BUCKET", "imgqueue", "bucket of the bundled object store (`make up STORAGE=s3`)", COMPOSE),
    Variable("OBJECTSTORE_BIND", "127.0.0.1", "interface the bundled object store is published on", COMPOSE),
    Variable("OBJECTSTORE_PORT", "9000", "port the bundled object store is published on", COMPOSE),
    Variable("REDIS_BIND", "127.0.0.1", "with docker-compose.hub.yml: interface Redis is published on, for "
             "workers on other machines", COMPOSE),
    Variable("REDIS_PORT", "6379", "with docker-compose.hub.yml: port Redis is published on", COMPOSE),
    Variable("IMGQUEUE_IMAGES", "auto", "`make images`: `official` base images from a registry, `local` ones built "
             "here, or `auto`", COMPOSE),
    Variable("PYTHON_IMAGE", "python:3.12-slim", "base image of the services (`make images` writes it into .env)",
             COMPOSE),
    Variable("REDIS_IMAGE", "redis:7-alpine", "Redis image (`make images` writes it into .env)", COMPOSE),
    Variable("PIP_INSTALL_ARGS", "", "extra pip arguments in the image build (`make images` writes them into .env)",
             COMPOSE),
    Variable("IMGQUEUE_ENV_FILE", ".env", "the env file compose hands to the services", COMPOSE),
)


def all_variables() -> list[Variable]:
    return [*settings_variables(), *COMPOSE_VARIABLES]


def usable_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (a container's
    ``cpus:``), rounded up."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _seed_ok(item: str) -> bool:
    parts = item.split(":", 2)
    return len(parts) == 3 and parts[0] != "" and parts[1] in ("admin", "client") and len(parts[2]) >= 16


def _check(ok: bool, var: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{var} {message}")


def _parse(var: str, raw: str, parser: Callable[[str], T]) -> T:
    try:
        return parser(raw)
    except ValueError as exc:
        raise ConfigError(f"{var}={raw!r} is not valid: {exc}") from None


def _parse_int(raw: str) -> int:
    try:
        return int(raw.replace("_", ""))
    except ValueError:
        raise ValueError("expected a whole number") from None


def _parse_float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("expected a number") from None


_PARSERS: dict[type, Callable[[str], Any]] = {str: str, int: _parse_int, float: _parse_float, type(Path()): Path}


def _redact_url(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
