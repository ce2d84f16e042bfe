"""Secrets the API processes share (the signing key, when SIGNING_KEY is not set)."""

from __future__ import annotations

from dataclasses import dataclass

from .part import Part


@dataclass
class SharedSecrets(Part):
    def get_or_set(self, name: str, candidate: str) -> str:
        """The secret called ``name`` that every process shares: ``candidate`` if it is the first to ask."""
        self.redis.hsetnx(self.keys.secrets, name, candidate)
        return str(self.redis.hget(self.keys.secrets, name))
