"""A job's statuses, the transitions between them, and its priorities: the one definition. The Lua scripts
get them from here (``store.scripts``), the client and the dashboard from files generated from here
(``make generate``), the OpenAPI document's enums too."""

from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    DELAYED = "delayed"  # waiting for the time it was scheduled for (delay, runAt)
    QUEUED = "queued"
    PROCESSING = "processing"
    RETRYING = "retrying"  # waiting for its backoff to pass before going back to the queue
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


# A job in one of these will not change by itself (a client may still retry a failed or cancelled one).
TERMINAL = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})

# Which status may follow which. A job is created queued or delayed; every later change is checked against
# this table by the Lua script that makes it, so a late or stale transition can never undo a final one.
NEXT: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.DELAYED: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED}),
    # done: an output finished by a worker whose job was meanwhile handed back is still valid;
    # failed: a job handed back once too often (its worker kept dying) fails where it stands.
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.PROCESSING: frozenset({JobStatus.QUEUED, JobStatus.RETRYING, JobStatus.DONE, JobStatus.FAILED,
                                     JobStatus.CANCELLED}),
    JobStatus.RETRYING: frozenset({JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.DONE, JobStatus.FAILED,
                                   JobStatus.CANCELLED}),
    JobStatus.DONE: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),  # retried by a client
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),  # retried by a client
}


# The webhook event each ended status sends (and the one a batch sends when all its jobs have ended).
EVENTS: dict[JobStatus, str] = {JobStatus.DONE: "job.completed", JobStatus.FAILED: "job.failed",
                                JobStatus.CANCELLED: "job.cancelled"}
BATCH_COMPLETED = "batch.completed"


class Delivery(str, Enum):
    """Where a webhook message stands."""

    PENDING = "pending"  # to be attempted (again), when its time comes
    DELIVERED = "delivered"  # a receiver answered 2xx
    DEAD = "dead"  # refused for good, or unanswered for WEBHOOK_MAX_AGE: redeliver it by hand


class Priority(str, Enum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# Weighted turns: of every ten jobs taken while every priority has work waiting, six are high, three normal
# and one low, so a low job still runs under a steady stream of high ones. A priority with nothing waiting
# gives its turn to the next.
WEIGHTS: dict[Priority, int] = {Priority.HIGH: 6, Priority.NORMAL: 3, Priority.LOW: 1}


def cancellable(status: JobStatus) -> bool:
    return JobStatus.CANCELLED in NEXT[status]


def retryable(status: JobStatus) -> bool:
    """Ended, and may be queued again (failed or cancelled)."""
    return status in TERMINAL and JobStatus.QUEUED in NEXT[status]
