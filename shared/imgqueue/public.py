"""A job (or a batch) as its owner is shown it: the API's record (``GET /jobs/<id>``) and a webhook's ``data``
are both made here. ``link`` makes the URL of an output (the API signs it; a webhook names the plain route, since
a signed link could expire while a delivery is retried)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .job import Job, JobStatus

INTERNAL_FIELDS = ("input_path", "output_path", "worker", "content")  # where files are, host, pid: admins only
Link = Callable[[str, str], str]  # (job id, output name or '' for the job's output) -> its URL


def record(job: Job, link: Link) -> dict[str, Any]:
    """Every field of the record (internal ones too), with its outputs and their links."""
    data = job.to_dict()
    del data["input_key"], data["output_key"]
    running = job.progress and job.status is JobStatus.PROCESSING
    data["progress"] = json.loads(job.progress) if running else None  # outputs written of all, while it runs
    data.update(outputs(job, link))
    return data


def batch(b: dict[str, Any]) -> dict[str, Any]:
    """A batch (``store.batches.get``) as its owner is shown it: by the API, and in ``batch.completed``."""
    return {"batchId": b["id"], "expected": b["expected"], "jobs": b["jobs"], "ended": b["ended"],
            "counts": b["counts"], "callbackUrl": b["callback_url"] or None, "createdAt": b["created_at"],
            "completedAt": b["completed_at"]}


def for_owner(data: dict[str, Any]) -> dict[str, Any]:
    """A record without what only admins see."""
    return {k: v for k, v in data.items() if k not in INTERNAL_FIELDS and k != "extra"}


def outputs(job: Job, link: Link) -> dict[str, Any]:
    """A set's outputs as a record shows them: each with its link, and ``srcset`` (the outputs in the first
    output's format, by width) and ``srcsets`` (one per format)."""
    if not job.variants:
        return {"variants": [], "srcset": "", "srcsets": {}}
    shown: list[dict[str, Any]] = [
        {"name": v.name, "width": v.width, "height": v.height, "format": v.format, "bytes": v.bytes,
         "spec": v.spec.to_dict(), "url": link(job.id, v.name)} for v in job.variants]
    srcsets = _srcsets(shown) if job.status is JobStatus.DONE else {}
    return {"variants": shown, "srcset": srcsets.get(job.variants[0].format, ""), "srcsets": srcsets}


def _srcsets(shown: list[dict[str, Any]]) -> dict[str, str]:
    """Per format, ``url 320w, url 640w`` over the outputs of distinct widths (the first of a width wins)."""
    out: dict[str, str] = {}
    for fmt in dict.fromkeys(v["format"] for v in shown):
        by_width: dict[int, str] = {}
        for v in shown:
            if v["format"] == fmt:
                by_width.setdefault(v["width"], v["url"])
        if len(by_width) > 1:
            out[fmt] = ", ".join(f"{url} {width}w" for width, url in sorted(by_width.items()))
    return out
