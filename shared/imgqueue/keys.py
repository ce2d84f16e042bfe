"""Every Redis key and channel name imgqueue uses, in one place.

Two names are the Node demo's and must not change: the queue list (default ``image_jobs``) and the
per-job status string ``job:<id>:status``. Everything else lives under ``imgqueue:``.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "imgqueue"
JOB_PREFIX = "job:"
STATUS_SUFFIX = ":status"


def job_status(job_id: str) -> str:
    """String holding the job's status (the demo's key): ``GET job:<id>:status``."""
    return f"{JOB_PREFIX}{job_id}{STATUS_SUFFIX}"


def job_hash(job_id: str) -> str:
    """Hash holding the rest of the job record."""
    return f"{JOB_PREFIX}{job_id}"


@dataclass(frozen=True)
class Keys:
    """Key names that depend on the queue name, so several queues can share one Redis."""

    queue: str

    @property
    def delayed(self) -> str:
        """Sorted set of jobs waiting for a retry, scored by the time they may run again."""
        return f"{PREFIX}:{self.queue}:delayed"

    @property
    def index(self) -> str:
        """Sorted set of job ids scored by creation time, for listing; trimmed to the job TTL."""
        return f"{PREFIX}:{self.queue}:index"

    @property
    def tenant_index_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:index:"

    def tenant_index(self, tenant: str) -> str:
        """Sorted set of one tenant's job ids scored by creation time, for its own listing."""
        return self.tenant_index_prefix + tenant

    @property
    def tokens(self) -> str:
        """Hash: SHA-256 digest of an API token -> its record (JSON); tokens themselves are never stored."""
        return f"{PREFIX}:{self.queue}:tokens"

    @property
    def revoked(self) -> str:
        """Set of the ids of revoked tokens (stored or seeded): what they signed stops working too."""
        return f"{PREFIX}:{self.queue}:revoked"

    @property
    def secrets(self) -> str:
        """Hash of secrets the API processes share (the signing key, when not set in the settings)."""
        return f"{PREFIX}:{self.queue}:secrets"

    def drain(self, moment: int) -> str:
        """Counter of jobs that ended in the 10 seconds numbered ``moment`` (epoch seconds // 10)."""
        return f"{PREFIX}:{self.queue}:drain:{moment}"

    def chore(self, name: str) -> str:
        """Exists (with a TTL) while a periodic chore is another worker's turn."""
        return f"{PREFIX}:{self.queue}:chore:{name}"

    def rate(self, client: str) -> str:
        """Sorted set of a client's recent uploads (the rate limit's sliding window)."""
        return f"{PREFIX}:{self.queue}:rate:{client}"

    @property
    def stats(self) -> str:
        """Hash of counters: enqueued, started, done, failed, retried, lost, recovered."""
        return f"{PREFIX}:{self.queue}:stats"

    @property
    def processing_time(self) -> str:
        """Hash: histogram of processing seconds (fields: bucket upper bounds, count, sum)."""
        return f"{PREFIX}:{self.queue}:hist:processing"

    @property
    def queue_wait(self) -> str:
        """Hash: histogram of seconds from enqueue to start."""
        return f"{PREFIX}:{self.queue}:hist:wait"

    @property
    def workers(self) -> str:
        """Set of registered worker ids."""
        return f"{PREFIX}:{self.queue}:workers"

    @property
    def events(self) -> str:
        """Pub/sub channel: one JSON message per job transition."""
        return f"{PREFIX}:{self.queue}:events"

    @property
    def processing_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:processing:"

    @property
    def worker_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:worker:"

    @property
    def heartbeat_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:heartbeat:"

    def processing(self, worker_id: str) -> str:
        """List of the jobs a worker process has taken and not finished."""
        return self.processing_prefix + worker_id

    def worker(self, worker_id: str) -> str:
        """Hash describing a worker: host, pid, current job, last heartbeat, jobs done."""
        return self.worker_prefix + worker_id

    def heartbeat(self, worker_id: str) -> str:
        """Key that exists while a worker is alive (it carries a TTL, refreshed by the worker)."""
        return self.heartbeat_prefix + worker_id
