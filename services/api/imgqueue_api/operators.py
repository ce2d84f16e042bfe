"""``imgqueue-admin`` for operators: jobs (list with filters, show, retry, cancel), the queue's counters and
the workers, as plain text tables, or JSON with ``--json`` for scripts.

Exit codes scripts can trust: 0 when everything asked was done (a list may be empty); 1 when some of the
jobs named could not be acted on (unknown, or in a state that does not allow it: each is said on stderr);
2 for a usage, configuration or Redis error."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from imgqueue.errors import InvalidSpec, JobNotFound
from imgqueue.job import Job, JobStatus
from imgqueue.options import SECONDS
from imgqueue.spec import whole_number
from imgqueue.status import cancellable, retryable
from imgqueue.store import Store

LIST_COLUMNS = ("id", "status", "tenant", "priority", "age", "filename", "error_code")
MOST_LISTED = 100_000


def _seconds(text: str) -> float:
    """An age in seconds, written as every number the API reads (``options.SECONDS``); argparse's type."""
    if not SECONDS.fullmatch(text):
        raise argparse.ArgumentTypeError(f"seconds in ASCII digits (3600, 0.5), got {text[:40]!r}")
    return float(text)


def _how_many(text: str) -> int:
    try:
        return whole_number(text, "the limit", 1, MOST_LISTED)
    except InvalidSpec as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(groups: Any) -> None:
    jobs = groups.add_parser("jobs", help="list, show, retry and cancel jobs").add_subparsers(dest="verb",
                                                                                             required=True)
    listing = jobs.add_parser("list", help="newest first")
    listing.add_argument("--status", choices=[s.value for s in JobStatus])
    listing.add_argument("--tenant", help="one tenant's jobs ('' for open mode's)")
    listing.add_argument("--older-than", type=_seconds, default=0.0, metavar="SECONDS", help="created before then")
    listing.add_argument("--newer-than", type=_seconds, default=0.0, metavar="SECONDS", help="created since then")
    listing.add_argument("--limit", type=_how_many, default=50, help=f"most jobs listed (1 to {MOST_LISTED})")
    show = jobs.add_parser("show", help="one job's whole record")
    show.add_argument("job_id")
    for verb, text in (("retry", "queue failed or cancelled jobs again"), ("cancel", "cancel jobs not ended")):
        acting = jobs.add_parser(verb, help=text)
        acting.add_argument("job_ids", nargs="+", metavar="ID")
    queue = groups.add_parser("queue", help="the queue").add_subparsers(dest="verb", required=True)
    queue.add_parser("stats", help="counters, depth by priority, workers")
    workers = groups.add_parser("workers", help="the worker processes").add_subparsers(dest="verb", required=True)
    workers.add_parser("list", help="every registered worker process")
    for parser in (listing, show, queue.choices["stats"], workers.choices["list"]):
        parser.add_argument("--json", action="store_true", help="JSON for scripts")


def run(store: Store, args: argparse.Namespace) -> int:
    if args.what == "queue":
        return _print(store.stats() | {"depth_by_priority": store.jobs.depth_by_priority()}, args.json)
    if args.what == "workers":
        workers = store.workers.all()
        return _print(workers, args.json, ("id", "host", "pid", "alive", "current_job", "jobs_done", "jobs_failed"))
    if args.verb == "list":
        return _print([_row(j) for j in _listed(store, args)], args.json, LIST_COLUMNS)
    if args.verb == "show":
        try:
            return _print(store.jobs.get(args.job_id).to_dict(), args.json)
        except JobNotFound:
            print(f"imgqueue-admin: no job {args.job_id!r}", file=sys.stderr)
            return 1
    return _act(store, args.verb, args.job_ids)


def _listed(store: Store, args: argparse.Namespace) -> list[Job]:
    status = JobStatus(args.status) if args.status else None
    now = time.time()
    scan = max(args.limit * 20, 10_000)
    jobs = store.jobs.newest(status, limit=scan if (args.older_than or args.newer_than) else args.limit,
                             scan_limit=scan, tenant=args.tenant)
    if args.older_than:
        jobs = [j for j in jobs if now - j.created_at >= args.older_than]
    if args.newer_than:
        jobs = [j for j in jobs if now - j.created_at <= args.newer_than]
    return jobs[:args.limit]


def _act(store: Store, verb: str, job_ids: list[str]) -> int:
    """Retry or cancel each job; 1 when any could not be."""
    failures = 0
    for job_id in job_ids:
        try:
            job = store.jobs.get(job_id)
        except JobNotFound:
            print(f"{job_id}: no such job", file=sys.stderr)
            failures += 1
            continue
        allowed = retryable(job.status) if verb == "retry" else cancellable(job.status)
        changed = allowed and (store.jobs.retry(job_id) if verb == "retry" else store.jobs.cancel(job_id)).changed
        if changed:
            print(f"{job_id}: {'queued again' if verb == 'retry' else 'cancelled'}")
        else:
            print(f"{job_id}: not {verb.rstrip('y') + 'ied' if verb == 'retry' else 'cancelled'} (it is "
                  f"{store.jobs.status(job_id).value})", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def _row(job: Job) -> dict[str, Any]:
    return {"id": job.id, "status": job.status.value, "tenant": job.tenant, "priority": job.priority,
            "created_at": job.created_at, "age": _age(time.time() - job.created_at), "filename": job.filename,
            "error_code": job.error_code}


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _print(data: Any, as_json: bool, columns: tuple[str, ...] = ()) -> int:
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    elif isinstance(data, list):
        widths = {c: max([len(c), *(len(str(row.get(c, ""))) for row in data)]) for c in columns}
        print("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
        for row in data:
            print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns).rstrip())
    else:
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            print(f"{key.ljust(width)}  {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return 0
