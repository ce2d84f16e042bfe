"""CPU accounting from /proc: what each part of a system spent over a round, per image. A part is a set of
root processes with all their descendants (gunicorn's master and its workers, a worker supervisor and its
processes, the Node API, redis-server); the client is this benchmark's own process (its upload threads and its
status watcher). Children that exited during the round are counted through their parent's ``cutime``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PARTS = ("client", "api", "redis", "workers")


def _stat(pid: int) -> tuple[float, float]:
    """(own CPU seconds, reaped children's CPU seconds) of one process; zeros once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0, 0.0
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / TICK, (cutime + cstime) / TICK


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def tree_seconds(roots: Iterable[int]) -> float:
    """CPU seconds of these processes, their live descendants, and the children they reaped."""
    total = 0.0
    for root in roots:
        own, reaped = _stat(root)
        total += own + reaped
        total += sum(_stat(pid)[0] + _stat(pid)[1] for pid in _descendants(root)[1:])
    return total


def client_seconds() -> float:
    times = os.times()
    return times.user + times.system


def snapshot(parts: Mapping[str, Iterable[int]]) -> dict[str, float]:
    """CPU seconds so far of the client and of each part (``parts``: name -> root pids)."""
    return {"client": client_seconds(), **{name: tree_seconds(pids) for name, pids in parts.items()}}


def per_image(before: Mapping[str, float], after: Mapping[str, float], images: int) -> dict[str, float]:
    """Milliseconds of CPU per image, by part, and their total."""
    out = {name: max(0.0, after[name] - before[name]) * 1000 / images for name in after}
    out["total"] = sum(out[name] for name in after)
    return {name: round(ms, 2) for name, ms in out.items()}
