"""Tenants' API tokens, stored by their digest (the token itself is never stored)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .part import Part


@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored: its digest is the key, this the value."""

    id: str  # a short public handle, to list and revoke it
    tenant: str
    role: str  # admin or client
    label: str
    created_at: float


@dataclass
class TokenStore(Part):
    def save(self, digest: str, record: TokenRecord) -> None:
        self.redis.hset(self.keys.tokens, digest, json.dumps(asdict(record)))

    def find(self, digest: str) -> TokenRecord | None:
        raw = self.redis.hget(self.keys.tokens, digest)
        return None if raw is None else TokenRecord(**json.loads(raw))

    def all(self) -> list[TokenRecord]:
        return sorted((TokenRecord(**json.loads(v)) for v in self.redis.hvals(self.keys.tokens)),
                      key=lambda t: t.created_at)

    def revoke(self, token_id: str) -> bool:
        """Forget the token with this id; False if there is none."""
        for digest, raw in self.redis.hgetall(self.keys.tokens).items():
            if json.loads(raw)["id"] == token_id:
                return bool(self.redis.hdel(self.keys.tokens, digest))
        return False
