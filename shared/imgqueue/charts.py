"""The operators' charts from the history's samples: each sample is the queue's cumulative counters and the
upload-to-done histogram at one moment (``store.history``); two consecutive samples make one point: jobs
completed, failed and cancelled in between (per minute), failures by reason, the p50 and p95 time from
upload to done of the jobs done in between, and the queue depth by priority at the later moment."""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

from .status import JobStatus

QUANTILES = (("p50", 0.5), ("p95", 0.95))
ENDED = (JobStatus.DONE.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)


def points(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per pair of consecutive samples (oldest first). A counter that went down (Redis lost its
    data) counts from zero."""
    out = []
    for before, after in pairwise(samples):
        minutes = max(1e-9, (after["t"] - before["t"]) / 60)
        point: dict[str, Any] = {"t": after["t"], "depth": after.get("depth", {})}
        for name in ENDED:
            point[name] = round(_delta(before, after, name) / minutes, 3)
        reasons = after.get("reasons", {})
        point["reasons"] = {r: round(max(0, n - before.get("reasons", {}).get(r, 0)) / minutes, 3)
                            for r, n in reasons.items() if n - before.get("reasons", {}).get(r, 0) > 0}
        point.update(_quantiles(before.get("latency", []), after.get("latency", [])))
        out.append(point)
    return out


def _delta(before: dict[str, Any], after: dict[str, Any], name: str) -> int:
    a, b = int(after.get(name, 0)), int(before.get(name, 0))
    return a - b if a >= b else a


def _quantiles(before: list[list[float]], after: list[list[float]]) -> dict[str, float | None]:
    """p50 and p95 of the observations between two cumulative histograms ([bound, count], ...), by linear
    interpolation inside the bucket (as Prometheus' histogram_quantile); None when nothing was observed."""
    counts = {bound: count for bound, count in before}
    buckets = [(bound, count - counts.get(bound, 0)) for bound, count in after]
    if any(n < 0 for _, n in buckets):
        buckets = [(bound, count) for bound, count in after]  # the counters were reset
    total = buckets[-1][1] if buckets else 0
    out: dict[str, float | None] = {}
    for name, q in QUANTILES:
        out[name] = _quantile(buckets, total, q) if total > 0 else None
    return out


def _quantile(buckets: list[tuple[float, float]], total: float, q: float) -> float:
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if math.isinf(bound):
                return lower  # past the last bound: its lower edge, as Prometheus does
            inside = cumulative - below
            return round(lower + (bound - lower) * ((rank - below) / inside if inside else 1.0), 4)
        lower, below = bound, cumulative
    return lower
