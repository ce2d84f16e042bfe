"""The job model: its record (the ``job:<id>`` hash). Its statuses are defined in ``status.py``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from .spec import ResizeSpec
from .status import TERMINAL, JobStatus, Priority

__all__ = ["TERMINAL", "UPLOADS", "Job", "JobStatus", "Priority", "Rendition", "input_key", "new_job_id", "output_key"]


def new_job_id() -> str:
    return uuid.uuid4().hex


UPLOADS = "uploads"  # the top folder of the uploads' keys


def input_key(job_id: str, extension: str) -> str:
    """The object key of a job's upload."""
    return f"{UPLOADS}/{job_id}.{extension}"


def output_key(job_id: str, extension: str, name: str = "") -> str:
    """The object key of a job's output (of one of its variants, by ``name``)."""
    return f"output/{job_id}-{name}.{extension}" if name else f"output/{job_id}.{extension}"


@dataclass(frozen=True)
class Rendition:
    """One output of a set: what was asked (``name``, ``spec``), where it goes (``key``), what was made."""

    name: str
    spec: ResizeSpec
    key: str
    width: int = 0
    height: int = 0
    format: str = ""  # jpeg, png, webp, gif or avif, once made
    bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "spec": self.spec.to_dict(), "key": self.key, "width": self.width,
                "height": self.height, "format": self.format, "bytes": self.bytes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rendition:
        return cls(str(data["name"]), _spec(data["spec"]), str(data["key"]), int(data.get("width", 0)),
                   int(data.get("height", 0)), str(data.get("format", "")), int(data.get("bytes", 0)))


@dataclass
class Job:
    id: str
    spec: ResizeSpec
    input_key: str  # object keys in the storage backend
    output_key: str
    status: JobStatus = JobStatus.QUEUED
    filename: str = ""  # the client's file name, for display only: never used as a path
    tenant: str = ""  # who owns it ("" in open mode)
    batch: str = ""
    priority: str = Priority.NORMAL.value
    run_at: float = 0.0  # when a delayed job becomes due (0: at once)
    content: str = ""  # key of its bytes (size, both ends) and its spec: a candidate for sharing its output
    input_digest: str = ""  # SHA-256 of its upload, recorded by the worker (an identical upload shares)
    input_format: str = ""
    input_width: int = 0
    input_height: int = 0
    input_bytes: int = 0
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    updated_at: float = 0.0  # time of the last transition (the ``ts`` of its event)
    attempts: int = 0  # times a worker started it
    lost: int = 0  # times its worker process died while running it, its supervisor alive (a poison job?)
    vanished: int = 0  # times its whole worker vanished while running it (container, host, supervisor)
    retries: int = 0  # times it was scheduled again after a transient error
    resubmitted: int = 0  # times a client retried it after it failed or was cancelled
    worker: str = ""
    output_width: int = 0
    output_height: int = 0
    output_bytes: int = 0
    output_format: str = ""
    engine: str = ""  # the imaging engine that made the output: vips or pillow
    output_expires_at: float = 0.0  # when the output is removed (OUTPUT_TTL after done)
    duplicate_of: str = ""  # the done job whose output it shares (an identical upload)
    variants: tuple[Rendition, ...] = ()  # a set of outputs (empty: the one output of ``spec``)
    placeholder_kind: str = ""  # blurhash or thumbhash, when asked for
    placeholder: str = ""  # the placeholder, once done
    progress: str = ""  # JSON {done, total} while processing
    trace_id: str = ""  # W3C trace id (32 hex digits): the upload's traceparent, or one made for it
    callback_url: str = ""  # where its webhook goes ('': its tenant's endpoint, if any)
    notices: int = 0  # webhook messages written about it (their ids count with it)
    webhook: str = ""  # where its latest webhook message stands: pending, delivered or dead
    error_code: str = ""
    error: str = ""
    duration_ms: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)  # fields this version does not know

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form used by the API."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["status"] = self.status.value
        data["spec"] = self.spec.to_dict()
        data["variants"] = [v.to_dict() for v in self.variants]
        return data

    @property
    def output_keys(self) -> list[str]:
        """Every object key the job writes: its variants', or its one output's."""
        return [v.key for v in self.variants] or [self.output_key]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        kwargs: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, value in _upgraded(data).items():
            coerce = _COERCE.get(key)
            if coerce is None:
                extra[key] = str(value)
            else:
                kwargs[key] = coerce(value)
        return cls(**kwargs, extra=extra)

    def to_redis(self) -> dict[str, str]:
        """Flat string mapping for the ``job:<id>`` hash. Fields still at their default (0, "") are left
        out: they read back as the default, and a smaller hash is faster to write and read."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["status"], data["spec"] = self.status.value, _spec_text(self.spec)
        data["variants"] = renditions_text(self.variants) if self.variants else ""
        return {k: _to_str(v) for k, v in data.items() if v not in ("", 0, 0.0) or k in _ALWAYS}

    @classmethod
    def from_redis(cls, raw: dict[str, str], status: str | None = None) -> Job:
        data: dict[str, Any] = dict(raw)
        if status:
            data["status"] = status
        return cls.from_dict(data)


_ALWAYS = frozenset({"id", "status", "spec", "input_key", "output_key"})
# Before 0.2, a record held where its files were (a path, or s3://bucket/prefix/<folder>/<name>) rather
# than their keys; every such file was <folder>/<jobId>.<ext>, so its key is the folder and the name.
_LOCATIONS = {"input_path": ("input_key", "uploads"), "output_path": ("output_key", "output")}


def _upgraded(data: dict[str, Any]) -> dict[str, Any]:
    """A record as this version writes it, read from one an earlier version wrote."""
    if not any(old in data for old in _LOCATIONS):
        return data
    data = dict(data)
    for old, (new, folder) in _LOCATIONS.items():
        location = str(data.pop(old, "") or "")
        if location and not data.get(new):
            data[new] = f"{folder}/{location.rstrip('/').rsplit('/', 1)[-1]}"
    return data


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _int(value: Any) -> int:
    return int(float(value)) if value not in ("", None) else 0


def _float(value: Any) -> float:
    return float(value) if value not in ("", None) else 0.0


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _spec(value: Any) -> ResizeSpec:
    if isinstance(value, ResizeSpec):
        return value
    return _stored_spec(value) if isinstance(value, str) else ResizeSpec.from_dict(value)


@lru_cache(maxsize=1024)
def _spec_text(spec: ResizeSpec) -> str:
    """A spec as a record stores it (JSON), written once per spec."""
    return json.dumps(spec.to_dict(), separators=(",", ":"))


@lru_cache(maxsize=1024)
def _stored_spec(text: str) -> ResizeSpec:
    """A spec as a record stores it (JSON), parsed once: jobs of one upload share it, and specs are frozen."""
    return ResizeSpec.from_dict(json.loads(text))


def renditions_text(variants: tuple[Rendition, ...]) -> str:
    return json.dumps([v.to_dict() for v in variants], separators=(",", ":"))


def _renditions(value: Any) -> tuple[Rendition, ...]:
    """Empty (a single-output job, or one sharing such a job's output) or a JSON list of outputs."""
    if not value:
        return ()
    items = json.loads(value) if isinstance(value, str) else value
    return tuple(v if isinstance(v, Rendition) else Rendition.from_dict(v) for v in items)


def _coercers() -> dict[str, Callable[[Any], Any]]:
    """One converter per Job field, chosen once from the annotations (from_dict runs once per job)."""
    by_type: dict[str, Callable[[Any], Any]] = {"int": _int, "float": _float, "str": _str}
    out: dict[str, Callable[[Any], Any]] = {}
    for f in fields(Job):
        if f.name == "extra":
            continue
        out[f.name] = by_type.get(str(f.type), _str)
    out.update(spec=_spec, status=JobStatus, variants=_renditions)
    return out


_COERCE = _coercers()
_FIELD_NAMES = tuple(f.name for f in fields(Job) if f.name != "extra")
