"""The connection to Redis, and what callers catch instead of importing redis."""

from __future__ import annotations

import time
from typing import Any

import redis
from redis.sentinel import Sentinel

from ..config import Settings

# Redis cannot be reached right now (worth retrying); Redis is full (maxmemory with noeviction: writes are
# refused until records expire); any failure at all.
UNAVAILABLE: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
FULL: type[Exception] = redis.exceptions.OutOfMemoryError
FAILURE: type[Exception] = redis.RedisError


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
    if settings.password:
        options["password"] = settings.password
    if settings.sentinels:
        sentinel = Sentinel(settings.sentinels, socket_connect_timeout=2, socket_timeout=2,
                            sentinel_kwargs={"password": settings.redis_sentinel_password or None,
                                             "socket_connect_timeout": 2, "socket_timeout": 2})  # type: ignore[no-untyped-call]
        primary: redis.Redis = sentinel.master_for(settings.redis_sentinel_master, **options)  # type: ignore[no-untyped-call]
        return primary
    return redis.Redis.from_url(settings.redis_url, **options)
