"""The Lua scripts (``imgqueue/lua``): each behind the constants (generated from ``status.py``, the
histograms' buckets and ``keys.py``) and the common prelude (``lua/common.lua``), registered once and
called with the prelude's arguments (the time, the job TTL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import redis

from .. import keys
from ..status import BATCH_COMPLETED, EVENTS, NEXT, TERMINAL, WEIGHTS, Delivery, JobStatus, Priority
from .connection import now_ms
from .histogram import HISTOGRAM_BUCKETS


def turns() -> list[list[Priority]]:
    """The weighted round: for each turn, the priorities in the order that turn tries them (the one whose
    turn it is first, then the others, highest first); each priority leads as many turns as its weight."""
    out = []
    for lead in Priority:
        rest = [p for p in Priority if p is not lead]
        out += [[lead, *rest]] * WEIGHTS[lead]
    return out


def vocabulary() -> str:
    """``status.py`` and the histograms' buckets as Lua: ``S`` (the statuses by name), ``MAY`` (the moves
    ``NEXT`` allows, as ``'from>to'``), ``TERMINAL``, ``PRIORITIES`` (highest first), ``TURNS`` (the
    priorities' weighted round, flat), ``BUCKETS`` (bound, field name, bound, ...), ``EVENTS`` (the webhook
    event of each ended status), ``BATCH_COMPLETED`` and ``PENDING`` (a delivery's first state). Flat tables: the
    prelude runs on every call, and each table it builds costs."""
    names = ", ".join(f"{s.name} = '{s.value}'" for s in JobStatus)
    moves = ", ".join(f"['{a.value}>{b.value}'] = true" for a in JobStatus for b in JobStatus if b in NEXT[a])
    final = ", ".join(f"['{s.value}'] = true" for s in JobStatus if s in TERMINAL)
    rounds = ", ".join(f"'{p.value}'" for turn in turns() for p in turn)
    priorities = ", ".join(f"'{p.value}'" for p in Priority)
    buckets = ", ".join(f"{b}, '{b}'" for b in HISTOGRAM_BUCKETS)
    events = ", ".join(f"['{s.value}'] = '{e}'" for s, e in EVENTS.items())
    return (f"local S = {{{names}}}\nlocal MAY = {{{moves}}}\nlocal TERMINAL = {{{final}}}\n"
            f"local PRIORITIES = {{{priorities}}}\nlocal TURNS = {{{rounds}}}\nlocal BUCKETS = {{{buckets}}}\n"
            f"local EVENTS = {{{events}}}\nlocal BATCH_COMPLETED = '{BATCH_COMPLETED}'\n"
            f"local PENDING = '{Delivery.PENDING.value}'\n")


def key_names(k: keys.Keys) -> str:
    """The key names the scripts build their keys from, as Lua (``K`` in lua/common.lua)."""
    names = {
        "channel": k.events, "job_prefix": keys.JOB_PREFIX, "status_suffix": keys.STATUS_SUFFIX,
        "legacy": k.queue, "default_priority": keys.DEFAULT_PRIORITY, "queue_prefix": k.queue_prefix,
        "ring_prefix": k.ring_prefix, "wake": k.wake, "scheduled": k.delayed, "count": k.count,
        "running": k.running, "stats": k.stats, "ended_prefix": k.ended_prefix,
        "content_prefix": k.content_prefix, "wanted": k.wanted, "usage": k.usage, "fair_base": k.fair_base,
        "outbox": k.outbox, "outbox_wake": k.outbox_wake, "delivery_prefix": k.delivery_prefix,
        "deliveries_prefix": k.deliveries_prefix, "endpoint_prefix": k.endpoint_prefix,
        "batch_prefix": k.batch_prefix, "latency": k.latency}
    return "local K = {" + ", ".join(f"{name} = {_lua_string(value)}" for name, value in names.items()) + "}\n"


def _lua_string(text: str) -> str:
    """A Lua string literal of any text (a queue name is the operator's to choose)."""
    return "'" + "".join(c if c.isalnum() or c in ":_-." else f"\\{ord(c):03d}" for c in text) + "'"


@cache
def _parts(name: str) -> tuple[str, str]:
    folder = resources.files("imgqueue") / "lua"
    return (folder / "common.lua").read_text(), (folder / f"{name}.lua").read_text()


def source(name: str, k: keys.Keys) -> str:
    """A script's whole text: the constants, the common prelude, the script. The ``#!lua`` line makes Redis
    (7+) refuse a writing script up front when it is out of memory, rather than at its first write."""
    common, own = _parts(name)
    return "#!lua\n" + vocabulary() + key_names(k) + common + "\n" + own


@dataclass
class Scripts:
    """Runs ``lua/<name>.lua`` by its SHA; the prelude's two arguments (ARGV[1..2]) go first."""

    redis: redis.Redis
    keys: keys.Keys
    job_ttl: int
    _registered: dict[str, Any] = field(default_factory=dict)

    def __call__(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        script = self._registered.get(name)
        if script is None:
            script = self._registered[name] = self.redis.register_script(source(name, self.keys))
        return script(keys=list(keys), args=[repr(now_ms()), self.job_ttl, *args])
