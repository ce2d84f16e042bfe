"""The API's own settings: gunicorn, who may call, what an upload may cost. Read once at start (by
``gunicorn_conf`` in the master, by ``create_app`` in each worker process), frozen, failing fast."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from imgqueue.config import Settings, check, items, setting
from imgqueue.errors import ConfigError

SERVER, ACCESS, UPLOADS = "API server", "Access", "Uploads"
AUTH_MODES = ("open", "token")
WORKER_CLASSES = ("gevent", "gthread", "sync")
ROLES = ("admin", "client")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MIN_FIELD_BYTES = 2 * 64 * 1024  # Werkzeug's form parser holds up to two of its 64 KiB reads of a part at once


@dataclass(frozen=True)
class ApiSettings(Settings):
    api_host: str = setting("127.0.0.1", "address gunicorn binds (the container image sets 0.0.0.0)", SERVER)
    api_port: int = setting(8000, "port gunicorn binds (with compose: the port published on `API_BIND`)", SERVER)
    api_workers: int = setting(2, "gunicorn worker processes", SERVER)
    api_worker_class: str = setting("gevent", "gunicorn worker class: `gevent` holds many event streams cheaply; "
                                    "`gthread` uses `API_THREADS`", SERVER)
    api_worker_connections: int = setting(1000, "connections per gevent process", SERVER)
    api_threads: int = setting(8, "threads per process (`gthread` only)", SERVER)
    api_bind: str = setting("", "the address clients reach the API on when it is not `API_HOST` (compose "
                            "publishes the port on it); open mode refuses any but a loopback address", SERVER,
                            compose="127.0.0.1")
    api_publisher: str = setting("", "what publishes the API's port on `API_BIND` when gunicorn binds a wider "
                                 "address in a container (compose sets `docker`); empty: nothing does, so what "
                                 "gunicorn binds is what is reachable, and open mode binds loopback only", SERVER)

    auth_mode: str = setting("open", "`open`: no tokens, every caller may do everything (loopback only); "
                             "`token`: every call needs a token (`Authorization: Bearer …`)", ACCESS)
    api_tokens: str = setting("", "tokens seeded from the environment, `tenant:role:token` separated by commas "
                              "(role `admin` or `client`); more with `imgqueue-admin tokens create`", ACCESS,
                              secret=True)
    metrics_token: str = setting("", "a token that may read `/metrics` only (for Prometheus' scrape config)",
                                 ACCESS, secret=True)
    signing_key: str = setting("", "key of the HMAC behind signed result links and event-stream tickets; empty: "
                               "a random key kept in Redis, shared by every API process", ACCESS, secret=True)
    result_url_ttl: int = setting(3600, "seconds a signed result link (`resultUrl`) stays valid", ACCESS)
    stream_ticket_ttl: int = setting(60, "seconds an event-stream ticket may be used to open a stream", ACCESS)
    allowed_origins: str = setting("", "origins (`https://app.example.com`, comma-separated) whose pages may call "
                                   "the API from a browser; the API's own origin always may", ACCESS)
    allowed_hosts: str = setting("", "host names the API answers to (comma-separated, `*`: any); empty: loopback "
                                 "names and `api` in open mode, any in token mode", ACCESS)

    max_upload_bytes: int = setting(25 * 1024 * 1024, "largest file, in bytes", UPLOADS)
    max_request_bytes: int = setting(200 * 1024 * 1024, "largest request, in bytes (`POST /jobs` carries several "
                                     "files)", UPLOADS)
    max_files_per_request: int = setting(50, "most files in one `POST /jobs`", UPLOADS)
    max_batch_jobs: int = setting(10_000, "most jobs a batch (`POST /batches`) may expect; past it, 400 "
                                  "`invalid_parameter`", UPLOADS)
    max_form_parts: int = setting(1000, "most parts (files and fields) in one multipart form; past it, 413 "
                                  "`form_too_large`", UPLOADS)
    max_field_bytes: int = setting(500_000, "largest form field that is not a file (at least 131072: the form "
                                   "parser reads 64 KiB at a time); past it, 413 `form_too_large`", UPLOADS)
    max_bodies_per_client: int = setting(8, "request bodies one tenant (client address in open mode) may be sending "
                                         "to one API process at once; past it, 429 `too_many_uploads` before the "
                                         "body is read (all clients together: a quarter of the process's "
                                         "connections)", UPLOADS)
    max_queue_depth: int = setting(10_000, "jobs the queue may hold; an upload past it gets 503 `queue_full` with "
                                   "`Retry-After` (0: no limit)", UPLOADS, zero_ok=True)
    upload_rate_limit: int = setting(6000, "uploads a tenant (a client address in open mode) may make per "
                                     "`UPLOAD_RATE_WINDOW`; past it, 429 with `Retry-After` (0: no limit)", UPLOADS,
                                     zero_ok=True)
    upload_rate_window: float = setting(60.0, "seconds of the upload rate limit's sliding window", UPLOADS)
    max_streams_per_client: int = setting(16, "event streams one tenant (client address in open mode) may hold "
                                          "open per API process; past it, 429", UPLOADS)
    body_read_timeout: float = setting(60.0, "seconds an upload's body may take to arrive; past it, 408", UPLOADS)
    min_free_disk_bytes: int = setting(256 * 1024 * 1024, "free space the upload folder must keep; below it, "
                                       "uploads get 507 before their body is stored (0: no check)", UPLOADS,
                                       zero_ok=True)
    max_delay: float = setting(30 * 24 * 3600.0, "furthest ahead (seconds) an upload may be scheduled with `delay` "
                               "or `runAt`; past it, 400", UPLOADS)
    dedup_by_content: bool = setting(True, "an upload identical to a done job of its tenant (same bytes, same "
                                     "spec) is done at once, sharing that job's output (`duplicateOf`)", UPLOADS)
    idempotency_ttl: int = setting(24 * 3600, "seconds an `Idempotency-Key` is remembered: a retried request "
                                   "with it gets the first one's jobs", UPLOADS)
    presets: str = setting("", "named sets of outputs, as JSON: `{\"card\": [{\"name\": \"w320\", \"width\": 320, "
                           "\"format\": \"webp\"}, ...], ...}`; an upload asks for one with `preset=card`", UPLOADS)
    presets_file: str = setting("", "a JSON file of presets, as `PRESETS` (both may be given: `PRESETS` wins a "
                                "name they share)", UPLOADS)
    presets_only: bool = setting(False, "uploads must name a preset: any other resize field or `variants` is 400 "
                                 "(a public deployment cannot be asked for arbitrary sizes)", UPLOADS)
    default_width: int = setting(300, "width used when an upload gives neither width nor height", UPLOADS)
    default_height: int = setting(300, "height used when an upload gives neither width nor height", UPLOADS)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.api_worker_class in WORKER_CLASSES, "API_WORKER_CLASS", f"must be {', '.join(WORKER_CLASSES)}")
        check(self.auth_mode in AUTH_MODES, "AUTH_MODE", "must be open or token")
        check(all(_seed_ok(item) for item in items(self.api_tokens)), "API_TOKENS",
              "entries must be tenant:role:token with role admin or client and a token of 16 or more characters")
        check(self.metrics_token == "" or len(self.metrics_token) >= 16, "METRICS_TOKEN", "must be 16+ characters")
        check(self.max_field_bytes >= MIN_FIELD_BYTES, "MAX_FIELD_BYTES", f"must be at least {MIN_FIELD_BYTES}")
        check(not self.presets_file or os.access(self.presets_file, os.R_OK), "PRESETS_FILE",
              f"names a file this process cannot read: {self.presets_file}")
        check(not self.presets_only or bool(self.presets or self.presets_file), "PRESETS_ONLY",
              "needs presets (PRESETS or PRESETS_FILE)")
        if self.auth_mode == "token":
            check(bool(self.allowed_hosts) or not self.exposed, "ALLOWED_HOSTS", "must name the hosts clients reach "
                  "the API by (or * for any) when it is published beyond loopback in token mode")
            check(bool(self.signing_key) or self.redis_has_password, "SIGNING_KEY", "must be set when Redis has no "
                  "password: the signing key would otherwise be kept in Redis, where whoever reaches Redis could "
                  "read it and sign links and tickets (or give Redis a password)")

    @property
    def presets_text(self) -> str:
        """The presets as one JSON object: the file's, then ``PRESETS`` over them."""
        merged: dict[str, object] = {}
        sources = (("PRESETS_FILE", Path(self.presets_file).read_text() if self.presets_file else ""),
                   ("PRESETS", self.presets))
        for var, text in sources:
            if not text.strip():
                continue
            try:
                loaded = json.loads(text)
            except ValueError as exc:
                raise ConfigError(f"{var} is not JSON: {exc}") from None
            check(isinstance(loaded, dict), var, "must be a JSON object: a name for each list of variants")
            merged.update(loaded)
        return json.dumps(merged)

    @property
    def seeded_tokens(self) -> list[tuple[str, str, str]]:
        """``API_TOKENS`` as (tenant, role, token) triples."""
        return [(t, r, tok) for t, r, tok in (item.split(":", 2) for item in items(self.api_tokens))]

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
        return frozenset(o.rstrip("/") for o in items(self.allowed_origins))

    @property
    def hosts(self) -> frozenset[str]:
        """Host names the API answers to; empty means any."""
        hosts = frozenset(h.lower() for h in items(self.allowed_hosts))
        if "*" in hosts or (not hosts and self.auth_mode == "token"):
            return frozenset()
        return hosts or frozenset({*LOOPBACK, "api"})

    def refuse_open_binds(self, binds: list[str]) -> str | None:
        """Why open mode must not run on these addresses (what gunicorn binds, after its command line and
        GUNICORN_CMD_ARGS), or None. A wide address is only narrowed by a container runtime that publishes
        the port on API_BIND (API_PUBLISHER says one does); anywhere else, what gunicorn binds is what is
        reachable."""
        if self.auth_mode != "open":
            return None
        published = bool(self.api_publisher) and bool(self.api_bind) and not self.exposed
        wide = [b for b in binds if not _loopback_bind(b) and not published]
        if self.exposed or wide:
            where = ", ".join(wide) or self.public_address
            return (f"AUTH_MODE=open lets anyone who reaches the API do anything, and the API would be reachable on "
                    f"{where} (API_BIND / API_HOST / gunicorn --bind), beyond this machine. Set AUTH_MODE=token "
                    "(and create a token: imgqueue-admin tokens create --tenant NAME), or bind 127.0.0.1 only.")
        return None

    @property
    def connections(self) -> int:
        """Requests one process serves at once."""
        return self.api_worker_connections if self.api_worker_class == "gevent" else self.api_threads


def _loopback_bind(bind: str) -> bool:
    """A gunicorn bind address that only this machine reaches: a Unix socket, or a loopback address."""
    if bind.startswith("unix:"):
        return True
    host = bind.rsplit(":", 1)[0] if bind.count(":") == 1 or bind.startswith("[") else bind
    host = host.strip("[]")
    return host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127.")


def _seed_ok(item: str) -> bool:
    parts = item.split(":", 2)
    return len(parts) == 3 and parts[0] != "" and parts[1] in ROLES and len(parts[2]) >= 16
