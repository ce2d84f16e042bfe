"""The job-events channel: every transition, published by the Lua script that makes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from .part import Part


class EventSubscription:
    """``get`` returns the next event; it raises redis.ConnectionError when the link breaks."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(channel)
        self._pubsub.get_message(timeout=5)  # the subscribe confirmation

    def get(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None when ``timeout`` passes first (the link is then checked with a PING)."""
        message = self._pubsub.get_message(timeout=timeout)
        if message is None:
            self._pubsub.ping()
            return None
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            return None
        return event if isinstance(event, dict) else None

    def close(self) -> None:
        try:
            self._pubsub.close()
            self._client.close()
        except redis.RedisError:
            pass


@dataclass
class Events(Part):
    connect: Callable[[], redis.Redis] | None = None  # a connection of its own for each subscription

    def subscribe(self) -> EventSubscription:
        """A subscription to every job transition, on a connection of its own."""
        client = self.connect() if self.connect is not None else self.redis
        return EventSubscription(client, self.keys.events)
