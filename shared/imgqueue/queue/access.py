"""Who may call and how often: API tokens (stored by their digest), secrets the API processes share, and
the upload rate limit (a sliding window per client, in Redis so it holds across processes and hosts)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict

from ..records import Allowance, TokenRecord
from .base import Door


class Access(Door):
    def save_token(self, digest: str, record: TokenRecord) -> None:
        self.redis.hset(self.keys.tokens, digest, json.dumps(asdict(record)))

    def token(self, digest: str) -> TokenRecord | None:
        raw = self.redis.hget(self.keys.tokens, digest)
        return None if raw is None else TokenRecord(**json.loads(raw))

    def tokens(self) -> list[TokenRecord]:
        return sorted((TokenRecord(**json.loads(v)) for v in self.redis.hvals(self.keys.tokens)),
                      key=lambda t: t.created_at)

    def revoke_token(self, token_id: str) -> bool:
        """Forget the token with this id; False if there is none."""
        for digest, raw in self.redis.hgetall(self.keys.tokens).items():
            if json.loads(raw)["id"] == token_id:
                return bool(self.redis.hdel(self.keys.tokens, digest))
        return False

    def shared_secret(self, name: str, candidate: str) -> str:
        """The secret called ``name`` that every process shares: ``candidate`` if it is the first to ask."""
        self.redis.hsetnx(self.keys.secrets, name, candidate)
        return str(self.redis.hget(self.keys.secrets, name))

    def take_allowance(self, client: str, cost: int, limit: int, window: float) -> Allowance:
        """Take ``cost`` uses of ``client``'s ``limit`` per ``window`` seconds, if they fit (all or none)."""
        allowed, used, wait_ms = self.script("ratelimit")(
            keys=[self.keys.rate(client)],
            args=[*self.common_args(), int(time.time() * 1000), int(window * 1000), limit, cost, uuid.uuid4().hex])
        return Allowance(bool(allowed), limit, max(0, limit - int(used)), int(wait_ms) / 1000)
