"""The job-events channel, for one reader (the API's event hub)."""

from __future__ import annotations

import json
from typing import Any

import redis


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
