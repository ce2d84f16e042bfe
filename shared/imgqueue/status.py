"""A job's statuses and the transitions between them: the one definition. The Lua scripts get both from
here (``store.scripts``), the client and the dashboard from files generated from here (``make generate``),
the OpenAPI document's ``Status`` enum too."""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    RETRYING = "retrying"  # waiting for its backoff to pass before going back to the queue
    DONE = "done"
    FAILED = "failed"


TERMINAL = frozenset({JobStatus.DONE, JobStatus.FAILED})

# Which status may follow which. A job is queued when it is created; every later change is checked against
# this table by the Lua script that makes it, so a late or stale transition can never undo a final one.
NEXT: dict[JobStatus, frozenset[JobStatus]] = {
    # done: an output finished by a worker whose job was meanwhile handed back is still valid;
    # failed: a job handed back once too often (its worker kept dying) fails where it stands.
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.DONE, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset({JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.DONE, JobStatus.FAILED}),
    JobStatus.RETRYING: frozenset({JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.DONE, JobStatus.FAILED}),
    JobStatus.DONE: frozenset(),
    JobStatus.FAILED: frozenset(),
}
