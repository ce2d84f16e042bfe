"""The job model: its status and its record (the ``job:<id>`` hash)."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from .imaging import ResizeSpec


class JobStatus(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    RETRYING = "retrying"  # waiting for its backoff to pass before going back to the queue
    DONE = "done"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED)


TERMINAL = frozenset({JobStatus.DONE, JobStatus.FAILED})


def new_job_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Job:
    id: str
    spec: ResizeSpec
    input_path: str
    output_path: str
    status: JobStatus = JobStatus.QUEUED
    filename: str = ""  # the client's file name, for display only: never used as a path
    batch: str = ""
    input_format: str = ""
    input_width: int = 0
    input_height: int = 0
    input_bytes: int = 0
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    updated_at: float = 0.0  # time of the last transition (the ``ts`` of its event)
    attempts: int = 0  # times a worker started it
    lost: int = 0  # times its worker died while holding it
    retries: int = 0  # times it was scheduled again after a transient error
    worker: str = ""
    output_width: int = 0
    output_height: int = 0
    output_bytes: int = 0
    output_format: str = ""
    error_code: str = ""
    error: str = ""
    duration_ms: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)  # fields this version does not know

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form used by the API."""
        data = asdict(self)
        data.pop("extra")
        data["status"] = self.status.value
        data["spec"] = self.spec.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, value in data.items():
            f = known.get(key)
            if f is None or key == "extra":
                extra[key] = str(value)
                continue
            kwargs[key] = _coerce(key, f.type, value)
        kwargs["extra"] = extra
        return cls(**kwargs)

    def to_redis(self) -> dict[str, str]:
        """Flat string mapping stored in the ``job:<id>`` hash (status lives in its own key too)."""
        data = self.to_dict()
        data["spec"] = json.dumps(data["spec"], separators=(",", ":"))
        return {k: _to_str(v) for k, v in data.items()}

    @classmethod
    def from_redis(cls, raw: dict[str, str], status: str | None = None) -> Job:
        data: dict[str, Any] = dict(raw)
        if status:
            data["status"] = status
        return cls.from_dict(data)


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _coerce(key: str, annotation: Any, value: Any) -> Any:
    if key == "spec":
        return value if isinstance(value, ResizeSpec) else ResizeSpec.from_dict(
            json.loads(value) if isinstance(value, str) else value)
    if key == "status":
        return JobStatus(value)
    if annotation in ("int", int):
        return int(float(value)) if value not in ("", None) else 0
    if annotation in ("float", float):
        return float(value) if value not in ("", None) else 0.0
    return "" if value is None else str(value)
