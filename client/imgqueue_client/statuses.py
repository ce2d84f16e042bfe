"""A job's statuses, generated from shared/imgqueue/status.py by `make generate`: do not edit."""

DELAYED = "delayed"
QUEUED = "queued"
PROCESSING = "processing"
RETRYING = "retrying"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"

STATUSES = (DELAYED, QUEUED, PROCESSING, RETRYING, DONE, FAILED, CANCELLED)  # a job's life, in order
TERMINAL = frozenset({DONE, FAILED, CANCELLED})  # a job in one of these statuses will not change again
