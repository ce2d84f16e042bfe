"""What a worker makes of one job: every output of its set (or its one output) from one decode, stored
one by one with a checkpoint before each output of a set (progress, and a cancel noticed), and the record's
fields that describe them. Outputs become visible together: the job is ``done`` only once all are stored,
and a set that fails part way removes what it had stored. A single output has no checkpoint (its progress
would only ever say 0 of 1): a cancel that comes while it is made is noticed when its outcome is recorded,
and what it made is then discarded."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from imgqueue import imaging
from imgqueue.job import Job, Rendition, renditions_text
from imgqueue.outputs import naming
from imgqueue.placeholders import parse_placeholder
from imgqueue.spec import Limits
from imgqueue.storage import Storage

Checkpoint = Callable[[int, int], None]  # (outputs written, of all): raises to stop


def make(job: Job, data: bytes, storage: Storage, limits: Limits, engine: str,
         checkpoint: Checkpoint) -> dict[str, Any]:
    """Render, store and describe the job's outputs. Raises what rendering or storing raises, with
    nothing of the job's left stored."""
    specs = [v.spec for v in job.variants] or [job.spec]
    names = [v.name for v in job.variants]
    started = imaging.start_set(data, specs, limits, engine, parse_placeholder(job.placeholder_kind), names)
    keys, stored, made = job.output_keys, list[tuple[int, int]](), dict[int, imaging.Made]()
    try:
        for index, output in started.outputs:
            if len(keys) > 1:
                checkpoint(len(stored), len(keys))
            with naming(names[index] if names else ""):
                stored.append((index, storage.put(keys[index], output.data)))
            made[index] = output
    except BaseException:
        for index, _ in stored:
            storage.delete(keys[index])
        raise
    sizes = dict(stored)
    first = made[0]
    fields: dict[str, Any] = {"output_width": first.width, "output_height": first.height,
                              "output_bytes": sum(sizes.values()), "output_format": first.format.lower(),
                              "engine": started.engine, "error_code": "", "error": ""}
    if job.variants:
        fields["variants"] = renditions_text(tuple(_made(v, made[i], sizes[i]) for i, v in enumerate(job.variants)))
    if started.placeholder:
        fields["placeholder"] = started.placeholder
    if job.content:  # a candidate for sharing: its input's digest proves a later upload identical
        fields["input_digest"] = hashlib.sha256(data).hexdigest()
    return fields


def _made(variant: Rendition, made: imaging.Made, size: int) -> Rendition:
    return replace(variant, width=made.width, height=made.height, format=made.format.lower(), bytes=size)
