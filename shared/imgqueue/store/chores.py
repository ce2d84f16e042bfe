"""Periodic chores one process of the fleet does for all (recovery, the sweep): the first to ask in an
interval gets the turn, so the fleet's cost stays that of one process however many workers run."""

from __future__ import annotations

from dataclasses import dataclass

from .part import Part


@dataclass
class Chores(Part):
    def claim(self, name: str, seconds: float) -> bool:
        """True for the first process to ask in ``seconds``."""
        return bool(self.redis.set(self.keys.chore(name), "1", nx=True, px=max(1, int(seconds * 1000))))
