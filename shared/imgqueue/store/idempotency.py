"""Idempotency keys: what the first request with a key made, kept for a while per tenant, so that the same
request sent again gets the same answer rather than new jobs (and a different request with the same key is
told so)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .part import Part


class Seen(str, Enum):
    NEW = "new"  # the first request with this key: go on, then complete() or abandon()
    PENDING = "pending"  # an identical request with this key is being handled now
    DONE = "done"  # answered already: ``response`` is that answer
    MISMATCH = "mismatch"  # the key came with another request


@dataclass(frozen=True)
class Remembered:
    seen: Seen
    response: dict[str, Any] | None = None


@dataclass
class IdempotencyStore(Part):
    def begin(self, tenant: str, key: str, fingerprint: str, ttl: int) -> Remembered:
        """Claim ``key`` for this request (``fingerprint``: a digest of what it asks), or say what the key is."""
        name = self._name(tenant, key)
        if self.redis.set(name, json.dumps({"fp": fingerprint}), nx=True, ex=ttl):
            return Remembered(Seen.NEW)
        raw = self.redis.get(name)
        if raw is None:  # expired between the two calls: ours now
            return self.begin(tenant, key, fingerprint, ttl)
        record = json.loads(raw)
        if record["fp"] != fingerprint:
            return Remembered(Seen.MISMATCH)
        if "response" not in record:
            return Remembered(Seen.PENDING)
        return Remembered(Seen.DONE, record["response"])

    def complete(self, tenant: str, key: str, fingerprint: str, response: dict[str, Any], ttl: int) -> None:
        self.redis.set(self._name(tenant, key), json.dumps({"fp": fingerprint, "response": response}), ex=ttl)

    def abandon(self, tenant: str, key: str) -> None:
        """The request failed: the key is free for the next attempt."""
        self.redis.delete(self._name(tenant, key))

    def _name(self, tenant: str, key: str) -> str:
        return self.keys.idempotency(tenant, hashlib.sha256(key.encode()).hexdigest()[:32])
