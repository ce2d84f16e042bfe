"""How workers take jobs and give them back: the workers' settings, as the store's scripts need them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Retention:
    """How many ended jobs of a kind are kept, and for how long (0: no such limit; JOB_TTL still applies)."""

    most: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Policy:
    tenant_cap: int = 0  # jobs one tenant may have processing at once (0: no cap)
    keep_done: Retention = field(default_factory=Retention)
    keep_failed: Retention = field(default_factory=Retention)
    max_lost: int = 3  # times a job's worker process may die running it (its supervisor alive)
    max_vanished: int = 20  # times a job's whole worker may vanish running it
    fair_half_life: float = 300.0  # seconds over which a tenant's past use of the workers counts half
