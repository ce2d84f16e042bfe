"""Recovery (recover.lua): retries whose backoff has passed go back to the queue; the jobs of a worker
whose heartbeat expired (or of one a supervisor releases) go back to the head of the queue, or fail once
their worker died ``max_lost`` times (a poison job)."""

from __future__ import annotations

from dataclasses import dataclass

from .part import Part

PROMOTE_BATCH = 1000


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


@dataclass
class Recovery(Part):
    def run(self, max_lost: int, release_worker: str = "", count_loss: bool = True) -> Recovered:
        """Promote due retries and hand back the jobs of dead workers (or of ``release_worker`` now)."""
        res = self.scripts(
            "recover", [self.keys.workers, self.keys.queue, self.keys.delayed, self.keys.stats],
            [self.keys.heartbeat_prefix, self.keys.processing_prefix, self.keys.worker_prefix, PROMOTE_BATCH,
             max_lost, release_worker, "1" if count_loss else "0"])
        dead = [DeadWorker(wid, host, int(pid) if pid else None) for wid, host, pid in res[3]]
        return Recovered(int(res[0]), list(res[1]), list(res[2]), dead)

    def release(self, worker_id: str, max_lost: int, count_loss: bool) -> Recovered:
        """Hand back what ``worker_id`` holds now: its supervisor saw it exit (a loss when it crashed), or
        it is stopping cleanly."""
        return self.run(max_lost, release_worker=worker_id, count_loss=count_loss)
