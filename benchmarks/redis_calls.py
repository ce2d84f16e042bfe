"""Redis commands per job, from ``INFO commandstats`` over a round: every command the server ran, by name,
those that scripts call included (the server counts them too), so that each one can be justified. The
watcher's ``MGET`` polls are the benchmark's own, the same for every contender."""

from __future__ import annotations

from collections.abc import Mapping

import redis

SCRIPTS = frozenset({"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"})


def snapshot(url: str) -> dict[str, int]:
    """Calls so far, by command name."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(fields["calls"]) for name, fields in stats.items()}


def per(before: Mapping[str, int], after: Mapping[str, int], units: float) -> dict[str, float]:
    """Calls per unit (a job, a second) by command, most first (``info`` itself left out), their total, and
    the scripts among them."""
    calls = {name: (n - before.get(name, 0)) / units for name, n in after.items() if name != "info"}
    calls = {name: round(n, 2) for name, n in sorted(calls.items(), key=lambda kv: -kv[1]) if n > 0}
    return {"total": round(sum(calls.values()), 2), "scripts": round(sum(calls.get(s, 0) for s in SCRIPTS), 2),
            **calls}
