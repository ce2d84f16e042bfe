"""Recovery (recover.lua): jobs whose time has come (a delay, a retry's backoff) go to their queue; the
jobs of a worker that is gone go back to the head of their queue, or fail once lost too often. How a
worker went decides what counts: a worker process that died while its supervisor lived (an OOM kill, a
decoder's crash) counts a loss toward ``max_lost`` (a poison job is caught there); a whole worker that
vanished (its heartbeat expired: a container, a host, a supervisor killed) counts toward the much higher
``max_vanished``; a clean stop counts nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .part import Part
from .policy import Policy


@dataclass(frozen=True)
class DeadWorker:
    id: str
    host: str
    pid: int | None


@dataclass(frozen=True)
class Recovered:
    promoted: int
    requeued: list[str]
    failed: list[str]
    dead: list[DeadWorker]

    @property
    def dead_workers(self) -> list[str]:
        return [d.id for d in self.dead]


class Gone(str, Enum):
    """How a worker went."""

    VANISHED = "vanished"  # its heartbeat expired
    CRASHED = "crashed"  # its supervisor saw it die
    RELEASED = "released"  # it stopped cleanly


@dataclass
class Recovery(Part):
    policy: Policy = field(default_factory=Policy)

    def run(self) -> Recovered:
        """Move due jobs to their queue and hand back the jobs of the workers whose heartbeat expired."""
        return self._recover(Gone.VANISHED, "")

    def release(self, worker_id: str, gone: Gone) -> Recovered:
        """Hand back what ``worker_id`` holds now: its supervisor saw it die (CRASHED), or it is stopping
        cleanly (RELEASED)."""
        return self._recover(gone, worker_id)

    def _recover(self, gone: Gone, worker_id: str) -> Recovered:
        res = self.scripts(
            "recover", [self.keys.workers],
            [self.keys.heartbeat_prefix, self.keys.processing_prefix, self.policy.max_lost, self.policy.max_vanished,
             self.keys.worker_prefix, gone.value, worker_id])
        dead = [DeadWorker(wid, host, int(pid) if pid else None) for wid, host, pid in res[3]]
        return Recovered(int(res[0]), list(res[1]), list(res[2]), dead)
