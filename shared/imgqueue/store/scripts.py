"""The Lua scripts (``imgqueue/lua``): each behind the status vocabulary (generated from ``status.py``)
and the common prelude (``lua/common.lua``), registered once and called with the prelude's arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import redis

from .. import keys
from ..status import NEXT, TERMINAL, JobStatus
from .connection import now_ms


def vocabulary() -> str:
    """``status.py`` as Lua: ``S`` (the statuses by name), ``NEXT`` (which may follow which), ``TERMINAL``."""
    names = ", ".join(f"{s.name} = '{s.value}'" for s in JobStatus)
    follows = ", ".join(f"['{s.value}'] = {_lua_set(NEXT[s])}" for s in JobStatus)
    return f"local S = {{{names}}}\nlocal NEXT = {{{follows}}}\nlocal TERMINAL = {_lua_set(TERMINAL)}\n"


def _lua_set(statuses: frozenset[JobStatus]) -> str:
    """A Lua table with a ``true`` per status, in the enum's order."""
    return "{" + ", ".join(f"['{s.value}'] = true" for s in JobStatus if s in statuses) + "}"


@cache
def source(name: str) -> str:
    """A script's whole text. The ``#!lua`` line makes Redis (7+) refuse a writing script up front when it
    is out of memory, rather than at its first write."""
    folder = resources.files("imgqueue") / "lua"
    return "#!lua\n" + vocabulary() + (folder / "common.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


@dataclass
class Scripts:
    """Runs ``lua/<name>.lua`` by its SHA; the prelude's five arguments (ARGV[1..5]) go first."""

    redis: redis.Redis
    keys: keys.Keys
    job_ttl: int
    _registered: dict[str, Any] = field(default_factory=dict)

    def __call__(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        script = self._registered.get(name)
        if script is None:
            script = self._registered[name] = self.redis.register_script(source(name))
        return script(keys=list(keys), args=[*self.prelude(), *args])

    def prelude(self) -> list[Any]:
        """ARGV[1..5] of every script (see lua/common.lua)."""
        return [repr(now_ms()), self.job_ttl, self.keys.events, keys.JOB_PREFIX, keys.STATUS_SUFFIX]
