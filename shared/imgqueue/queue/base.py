"""What every part of the door shares: the connection, the Lua scripts and their common arguments."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import redis
from redis.sentinel import Sentinel

from .. import keys
from ..config import Settings

# What callers catch instead of importing redis: Redis cannot be reached right now (worth retrying), Redis
# is full (maxmemory with noeviction: writes are refused until records expire), any failure at all.
UNAVAILABLE: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
FULL: type[Exception] = redis.exceptions.OutOfMemoryError
FAILURE: type[Exception] = redis.RedisError

Script = Callable[..., Any]


@cache
def lua(name: str) -> str:
    """A script's body behind the common prelude. The ``#!lua`` line makes Redis (7+) refuse a writing
    script up front when it is out of memory, rather than at its first write."""
    folder = resources.files("imgqueue") / "lua"
    return "#!lua\n" + (folder / "common.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


def now_ms() -> float:
    """The time, to the millisecond: every transition time is stored and published exactly, with no
    more digits than Lua's cjson keeps (14), so that clients can compare event times with records."""
    return round(time.time(), 3)


def connect(settings: Settings) -> redis.Redis:
    """A Redis client with timeouts suited to blocking fetches; responses are decoded to str. With
    REDIS_SENTINELS, redis-py's own Sentinel client: it asks the sentinels for the primary, and asks again
    when the connection fails or the server it reaches has become a replica (after a failover)."""
    options: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": 5, "socket_timeout": 15,
                               "health_check_interval": 30}
    if settings.redis_password:
        options["password"] = settings.redis_password
    if settings.sentinels:
        sentinel = Sentinel(settings.sentinels, socket_connect_timeout=2, socket_timeout=2,
                            sentinel_kwargs={"password": settings.redis_sentinel_password or None,
                                             "socket_connect_timeout": 2, "socket_timeout": 2})  # type: ignore[no-untyped-call]
        primary: redis.Redis = sentinel.master_for(settings.redis_sentinel_master, **options)  # type: ignore[no-untyped-call]
        return primary
    return redis.Redis.from_url(settings.redis_url, **options)


class Door:
    """The connection, the settings and the key names every part of the queue works with."""

    redis: redis.Redis
    settings: Settings
    keys: keys.Keys
    _scripts: dict[str, Script]

    def script(self, name: str) -> Script:
        """The Lua script ``lua/<name>.lua``, registered once (redis-py then calls it by its SHA)."""
        if name not in self._scripts:
            self._scripts[name] = self.redis.register_script(lua(name))
        return self._scripts[name]

    def common_args(self) -> list[Any]:
        """The prelude's arguments (ARGV[1..5] of every script, see lua/common.lua)."""
        return [repr(now_ms()), self.settings.job_ttl, self.keys.events, keys.JOB_PREFIX, keys.STATUS_SUFFIX]
