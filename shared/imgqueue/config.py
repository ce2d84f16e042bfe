"""Settings: what every service reads (Redis, files, image limits, lifetimes), and the machinery each
service's own settings class is built with (``imgqueue_api.settings``, ``imgqueue_worker.settings``).

Read from the environment once, frozen, failing fast with a message naming the variable. Field ``foo_bar``
is read from ``FOO_BAR``; its default and its meaning are written once, here or in its service's class.
``.env.example`` and the settings reference (docs/settings.md) are generated from all of them
(``make generate``; ``make lint`` fails when they are out of date).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .logs import LOG_FORMATS
from .outbound import Policy
from .spec import Limits
from .webhooks import secret_key

T = TypeVar("T")
S = TypeVar("S", bound="Settings")

REDIS, FILES, LIMITS, LIFETIMES, LOGGING = "Redis", "Files", "Image limits", "Lifetimes", "Logging"
WEBHOOKS = "Webhooks"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Words of the example values people copy (.env.example, the Kubernetes base): a secret holding one is refused.
PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "replaceme", "placeholder", "example")


def setting(default: Any, doc: str, group: str, *, secret: bool = False, compose: str | None = None,
            zero_ok: bool = False) -> Any:
    """A setting: its default, what it means, its group in the docs. ``secret`` ones are never shown;
    ``compose`` is the value docker-compose.yml falls back to when it differs on purpose; ``zero_ok``: 0
    means something (a CPU count, off, no limit) where every other number must be greater than 0."""
    return field(default=default, metadata={"doc": doc, "group": group, "secret": secret, "compose": compose,
                                            "zero_ok": zero_ok})


@dataclass(frozen=True)
class Settings:
    """What every imgqueue service reads. A service's own settings class extends it."""

    redis_url: str = setting("redis://localhost:6379/0", "Redis connection (`redis://[user:password@]host:port/db`)",
                             REDIS)
    redis_password: str = setting("", "Redis password, when not in `REDIS_URL` or `REDIS_PASSWORD_FILE`", REDIS,
                                  secret=True)
    redis_password_file: str = setting("", "a file holding the Redis password (compose: `/run/secrets/"
                                       "redis_password`, written by `make images`; kept out of the environment and "
                                       "of every command line)", REDIS)
    redis_sentinels: str = setting("", "Redis Sentinel addresses (`host:port,host:port,…`): when set, the primary "
                                   "is found through them and followed after a failover (`REDIS_URL`'s host is "
                                   "then unused)", REDIS)
    redis_sentinel_master: str = setting("mymaster", "the name the sentinels monitor the primary by", REDIS)
    redis_sentinel_password: str = setting("", "the sentinels' own password, if they have one", REDIS, secret=True)
    redis_min_replicas: int = setting(0, "replicas an upload's write must reach (Redis WAIT) before the API "
                                      "acknowledges it; 1 with Sentinel, so a failover loses no acknowledged job",
                                      REDIS, zero_ok=True)
    redis_replica_timeout: float = setting(1.0, "seconds an upload waits for those replicas; past it, 503 "
                                           "`not_replicated` (the job may exist: a retry may run it twice)", REDIS)
    queue_name: str = setting("image_jobs", "the Redis list jobs are pushed onto (the Node demo's name)", REDIS)

    upload_dir: Path = setting(Path("data/uploads"), "the folder behind the `uploads/` keys (local files)", FILES)
    output_dir: Path = setting(Path("data/output"), "the folder behind the `output/` keys (local files)", FILES)
    storage_url: str = setting("", "where files live: empty (the two folders above), `file:///path` (its "
                               "`uploads/` and `output/`), or `s3://bucket/prefix` (an S3-compatible store)", FILES)
    aws_endpoint_url: str = setting("", "the S3 endpoint (`http://objectstore:9000`, MinIO's...); empty: AWS S3 "
                                    "in `AWS_REGION`", FILES)
    aws_region: str = setting("us-east-1", "the S3 region", FILES)
    aws_access_key_id: str = setting("", "S3 credentials (the bundled object store: `make images` writes them "
                                     "into .env)", FILES, secret=True)
    aws_secret_access_key: str = setting("", "S3 credentials", FILES, secret=True)
    s3_public_endpoint: str = setting("", "an endpoint of the store that clients reach: results are then "
                                      "redirected to presigned links instead of streamed by the API", FILES)

    max_input_pixels: int = setting(Limits.max_pixels, "largest input, width × height, read from the header "
                                    "before decoding; an animation's frames count together", LIMITS)
    max_output_pixels: int = setting(Limits.max_output_pixels, "largest output, width × height (as imgproxy's "
                                     "default); an animation's frames count together", LIMITS)
    max_output_dimension: int = setting(Limits.max_dimension, "largest `width` or `height` a client may ask for",
                                        LIMITS)
    max_frames: int = setting(Limits.max_frames, "most frames in an animation (GIF, WebP, PNG, AVIF), pages in a "
                              "TIFF or images in an MPO; each frame's own size counts against the pixel limits",
                              LIMITS)
    max_metadata_segments: int = setting(Limits.max_metadata_segments, "most metadata chunks, segments or extension "
                                         "blocks in one file (text, EXIF, XMP, ICC, comments...); past it, 422 "
                                         "`too_much_metadata`, found before any pixel is decoded", LIMITS)
    max_metadata_bytes: int = setting(Limits.max_metadata_bytes, "most bytes of metadata in one file; past it, 422 "
                                      "`too_much_metadata`", LIMITS)
    max_variants: int = setting(Limits.max_variants, "most outputs one upload may ask for (`variants` or a "
                                "preset); their pixels count together against `MAX_OUTPUT_PIXELS`", LIMITS)

    job_ttl: int = setting(7 * 24 * 3600, "seconds a job record is kept after its last change (7 days)", LIFETIMES)
    output_ttl: int = setting(7 * 24 * 3600, "seconds an output is kept after its job is done; then its result "
                              "answers 410 `expired`", LIFETIMES)
    history_interval: float = setting(60.0, "seconds between two samples of the queue's counters for the "
                                      "dashboard's charts (one process of the fleet, API or worker, takes each)",
                                      LIFETIMES)
    history_length: int = setting(1440, "samples kept for the charts (1440 at a minute apart: a day)", LIFETIMES)

    webhook_secret: str = setting("", "the secret (`whsec_` + base64) that signs the webhooks of open mode's jobs "
                                  "(`imgqueue-admin webhooks new-secret` makes one); in token mode each tenant's "
                                  "endpoint has its own. Without it, open mode's `callbackUrl` is refused (400)",
                                  WEBHOOKS, secret=True)
    webhook_allow_http: bool = setting(False, "callback URLs may be `http` (not only `https`)", WEBHOOKS)
    webhook_allow_private: bool = setting(False, "callback hosts may resolve to loopback, private, link-local or "
                                          "CGNAT addresses (tests, internal networks); cloud metadata addresses "
                                          "stay refused", WEBHOOKS)
    webhook_timeout: float = setting(10.0, "seconds a delivery attempt may take in all (connecting, sending, the "
                                     "whole answer); past it, a failed attempt", WEBHOOKS)
    webhook_max_response_bytes: int = setting(65536, "bytes of a receiver's answer read (the rest is ignored)",
                                              WEBHOOKS)
    webhook_retry_base: float = setting(5.0, "seconds before the second attempt; each later wait doubles (at most "
                                        "an hour), with jitter", WEBHOOKS)
    webhook_max_age: float = setting(86400.0, "seconds a message is retried for (a day); then it is `dead` until "
                                     "redelivered by hand", WEBHOOKS)

    log_level: str = setting("INFO", "`DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`", LOGGING)
    log_format: str = setting("text", "`text` (key=value lines) or `json` (one JSON object per line, for log "
                              "shippers); either way a line about a job carries its trace id", LOGGING)

    def __post_init__(self) -> None:
        check(self.queue_name != "", "QUEUE_NAME", "must not be empty")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                zero_ok = f.metadata.get("zero_ok", False)
                check(value >= 0 if zero_ok else value > 0, f.name.upper(),
                      "must be 0 or more" if zero_ok else "must be greater than 0")
        check(all(item.rpartition(":")[2].isdigit() for item in items(self.redis_sentinels)), "REDIS_SENTINELS",
              "entries must be host:port")
        check(self.log_level.upper() in LOG_LEVELS, "LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
        check(self.log_format in LOG_FORMATS, "LOG_FORMAT", f"must be one of {', '.join(LOG_FORMATS)}")
        for f in fields(self):
            if f.metadata["secret"]:
                check(not placeholder(getattr(self, f.name)), f.name.upper(), "holds an example value "
                      "(change-me...): set a secret of your own")
        if self.webhook_secret:
            secret_key(self.webhook_secret)  # ConfigError when it is not whsec_ + base64
        check(not self.redis_password_file or os.access(self.redis_password_file, os.R_OK), "REDIS_PASSWORD_FILE",
              f"names a file this process cannot read: {self.redis_password_file}")

    @property
    def password(self) -> str:
        """Redis' password: REDIS_PASSWORD, or what REDIS_PASSWORD_FILE holds ('' for none)."""
        if self.redis_password or not self.redis_password_file:
            return self.redis_password
        return Path(self.redis_password_file).read_text().strip()

    @property
    def redis_has_password(self) -> bool:
        return bool(self.redis_password or self.redis_password_file or "@" in self.redis_url)

    @property
    def limits(self) -> Limits:
        """What an image and a resize may cost, for the probe and the engines."""
        return Limits(self.max_input_pixels, self.max_frames, self.max_output_dimension, self.max_output_pixels,
                      self.max_metadata_segments, self.max_metadata_bytes, self.max_variants)

    @property
    def outbound(self) -> Policy:
        """Where webhooks may be sent, and how patiently."""
        return Policy(self.webhook_allow_http, self.webhook_allow_private, self.webhook_timeout,
                      self.webhook_max_response_bytes)

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """``REDIS_SENTINELS`` as (host, port) pairs."""
        out = []
        for item in items(self.redis_sentinels):
            host, _, port = item.rpartition(":")
            out.append((host.strip("[]") or "localhost", int(port)))
        return out

    @classmethod
    def from_env(cls: type[S], environ: Mapping[str, str] | None = None, **overrides: Any) -> S:
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

    def with_overrides(self: S, **changes: Any) -> S:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, so a child process reads back the same settings."""
        return {f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    def describe(self) -> dict[str, str]:
        """The settings as ``VARIABLE -> value`` with secrets and credentials in the Redis URL hidden."""
        out = self.to_env()
        out["REDIS_URL"] = _redact_url(self.redis_url)
        for f in fields(self):
            if f.metadata["secret"] and getattr(self, f.name):
                out[f.name.upper()] = "***"
        return out


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


def placeholder(value: object) -> bool:
    """Whether a secret is one of the example values people copy rather than a secret."""
    return isinstance(value, str) and any(word in value.lower() for word in PLACEHOLDERS)


def items(text: str) -> list[str]:
    """A comma-separated setting's entries, trimmed, empty ones left out."""
    return [item.strip() for item in text.split(",") if item.strip()]


def check(ok: bool, var: str, message: str) -> None:
    """Refuse a setting: ConfigError naming the variable."""
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


def _parse_bool(raw: str) -> bool:
    flags = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
    if raw.lower() not in flags:
        raise ValueError("expected true or false")
    return flags[raw.lower()]


_PARSERS: dict[type, Callable[[str], Any]] = {str: str, int: _parse_int, float: _parse_float, bool: _parse_bool,
                                              type(Path()): Path}


def _redact_url(url: str) -> str:
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
