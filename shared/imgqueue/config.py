"""Settings: read from the environment once, frozen, failing fast with a message naming the variable."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Every tunable of imgqueue. Field ``foo_bar`` is read from ``FOO_BAR``."""

    redis_url: str = "redis://localhost:6379/0"
    queue_name: str = "image_jobs"
    upload_dir: Path = Path("data/uploads")
    output_dir: Path = Path("data/output")
    # Limits on what the API accepts and the worker decodes.
    max_upload_bytes: int = 25 * 1024 * 1024  # per file
    max_request_bytes: int = 200 * 1024 * 1024  # per request (POST /jobs carries several files)
    max_files_per_request: int = 50
    max_input_pixels: int = 50_000_000
    max_output_dimension: int = 8192
    max_frames: int = 200
    default_width: int = 300
    default_height: int = 300
    # Workers.
    worker_concurrency: int = 0  # 0: one process per CPU
    worker_prefetch: int = 1  # jobs a worker process takes at once (more only pays off for very short jobs)
    heartbeat_interval: float = 5.0
    heartbeat_ttl: float = 15.0
    recovery_interval: float = 5.0
    max_lost: int = 3
    max_retries: int = 3
    retry_backoff_base: float = 1.0
    retry_backoff_max: float = 60.0
    job_time_limit: float = 60.0
    shutdown_timeout: float = 30.0
    job_ttl: int = 7 * 24 * 3600
    log_level: str = "INFO"
    imaging_engine: str = "pillow"  # or "vips": libvips decodes and shrinks PNG/WebP (needs pyvips)

    def __post_init__(self) -> None:
        _check(self.queue_name != "", "QUEUE_NAME", "must not be empty")
        for name in ("worker_prefetch", "max_upload_bytes", "max_request_bytes", "max_files_per_request",
                     "max_input_pixels", "max_output_dimension", "max_frames", "default_width", "default_height",
                     "max_lost", "job_ttl"):
            _check(getattr(self, name) > 0, name.upper(), "must be greater than 0")
        _check(self.worker_concurrency >= 0, "WORKER_CONCURRENCY", "must be 0 (CPU count) or more")
        _check(self.max_retries >= 0, "MAX_RETRIES", "must be 0 or more")
        for name in ("heartbeat_interval", "heartbeat_ttl", "recovery_interval", "retry_backoff_base",
                     "retry_backoff_max", "job_time_limit", "shutdown_timeout"):
            _check(getattr(self, name) > 0, name.upper(), "must be greater than 0")
        _check(self.heartbeat_ttl > self.heartbeat_interval, "HEARTBEAT_TTL",
               f"must be longer than HEARTBEAT_INTERVAL ({self.heartbeat_interval})")
        _check(self.imaging_engine in ("pillow", "vips"), "IMAGING_ENGINE", "must be pillow or vips")
        _check(self.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, "LOG_LEVEL",
               "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")

    @property
    def concurrency(self) -> int:
        """Worker processes to start: the setting, or the CPU count when it is 0."""
        return self.worker_concurrency or (os.cpu_count() or 1)

    @property
    def recovery_bound(self) -> float:
        """Upper bound, in seconds, between a worker's death and its job going back to the queue."""
        return self.heartbeat_ttl + self.recovery_interval

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win over both."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            var = field.name.upper()
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            parser = _PARSERS[type(field.default)]
            values[field.name] = _parse(var, raw.strip(), parser)
        values.update(overrides)
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, so a child process reads back the same settings."""
        return {f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    def describe(self) -> dict[str, str]:
        """The settings as ``VARIABLE -> value`` with credentials in the Redis URL hidden."""
        out = self.to_env()
        out["REDIS_URL"] = _redact_url(self.redis_url)
        return out


def _check(ok: bool, var: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{var} {message}")


def _parse(var: str, raw: str, parser: Callable[[str], T]) -> T:
    try:
        return parser(raw)
    except ValueError as exc:
        raise ConfigError(f"{var}={raw!r} is not valid: {exc}") from None


def _parse_bool(raw: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected true or false")


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


_PARSERS: dict[type, Callable[[str], Any]] = {
    str: str,
    int: _parse_int,
    float: _parse_float,
    bool: _parse_bool,
    type(Path()): Path,
}


def _redact_url(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
