"""A job's statuses, generated from shared/imgqueue/status.py by `make generate`: do not edit."""

QUEUED = "queued"
PROCESSING = "processing"
RETRYING = "retrying"
DONE = "done"
FAILED = "failed"

STATUSES = (QUEUED, PROCESSING, RETRYING, DONE, FAILED)  # a job's life, in order
TERMINAL = frozenset({DONE, FAILED})  # a job in one of these statuses will not change again
