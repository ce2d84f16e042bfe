"""Tenants' API tokens, stored by their digest (the token itself is never stored), and the ids of revoked
ones: a token revoked takes with it the stream tickets and result links it signed, and its open streams."""

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

    def revoke(self, token_id: str, seeded: bool = False) -> bool:
        """Revoke the token with this id (``seeded``: one from API_TOKENS, which is not stored); False if
        there is no such token."""
        found = seeded
        for digest, raw in self.redis.hgetall(self.keys.tokens).items():
            if json.loads(raw)["id"] == token_id:
                found = bool(self.redis.hdel(self.keys.tokens, digest)) or found
        if found:
            self.redis.sadd(self.keys.revoked, token_id)
        return found

    def is_revoked(self, token_id: str) -> bool:
        return bool(token_id) and bool(self.redis.sismember(self.keys.revoked, token_id))

    def revoked_among(self, token_ids: list[str]) -> set[str]:
        """Which of these ids are revoked (one round trip)."""
        if not token_ids:
            return set()
        flags = self.redis.smismember(self.keys.revoked, token_ids)
        return {tid for tid, flag in zip(token_ids, flags, strict=True) if flag}
