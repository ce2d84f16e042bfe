"""Every Redis key and channel name imgqueue uses, in one place.

Two names are the Node demo's and must not change: the queue list (default ``image_jobs``, which holds the
normal-priority jobs of the open tenant) and the per-job status string ``job:<id>:status``. Everything
else lives under ``imgqueue:``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .status import Priority

PREFIX = "imgqueue"
JOB_PREFIX = "job:"
STATUS_SUFFIX = ":status"


def job_status(job_id: str) -> str:
    """String holding the job's status (the demo's key): ``GET job:<id>:status``."""
    return f"{JOB_PREFIX}{job_id}{STATUS_SUFFIX}"


def job_hash(job_id: str) -> str:
    """Hash holding the rest of the job record."""
    return f"{JOB_PREFIX}{job_id}"


DEFAULT_PRIORITY = Priority.NORMAL.value


@dataclass(frozen=True)
class Keys:
    """Key names that depend on the queue name, so several queues can share one Redis."""

    queue: str  # the Node demo's list: the open tenant's normal-priority queue

    def tenant_queue(self, priority: str, tenant: str) -> str:
        """List of one tenant's queued job ids of one priority (LPUSH at the back, taken from the right)."""
        if priority == DEFAULT_PRIORITY and tenant == "":
            return self.queue
        return f"{self.queue_prefix}{priority}:{tenant}"

    @property
    def queue_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:queue:"

    def ring(self, priority: str) -> str:
        """Sorted set: the tenants with jobs of this priority queued, scored by their usage (fair share)."""
        return f"{PREFIX}:{self.queue}:ring:{priority}"

    @property
    def usage(self) -> str:
        """Hash: ``<priority>:<tenant>`` -> a tenant's use of the workers when it left that priority's round
        (its score there, kept for when it comes back; lua/common.lua)."""
        return f"{PREFIX}:{self.queue}:usage"

    @property
    def fair_base(self) -> str:
        """String: the time the usage weights are counted from (weight 1 then)."""
        return f"{PREFIX}:{self.queue}:fair_base"

    @property
    def ring_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:ring:"

    @property
    def wake(self) -> str:
        """List of tokens, one per job queued, that wake an idle worker blocked on it (BLPOP)."""
        return f"{PREFIX}:{self.queue}:wake"

    @property
    def count(self) -> str:
        """Hash: jobs per status that is not final nor processing, queued ones per priority (``queued:high``...)."""
        return f"{PREFIX}:{self.queue}:count"

    @property
    def running(self) -> str:
        """Hash: tenant -> jobs of it processing now (for a tenant's concurrency cap)."""
        return f"{PREFIX}:{self.queue}:running"

    @property
    def ended_prefix(self) -> str:
        """Sorted sets ``<prefix><status>``: ended jobs by finish time, for the retention."""
        return f"{PREFIX}:{self.queue}:ended:"

    @property
    def content_prefix(self) -> str:
        """Strings ``<prefix><tenant>:<digest>``: the done job whose output an identical upload may share."""
        return f"{PREFIX}:{self.queue}:content:"

    def content(self, tenant: str, digest: str) -> str:
        return f"{self.content_prefix}{tenant}:{digest}"

    @property
    def wanted(self) -> str:
        """Sorted set: shared output keys by the time the last job that shares them wants them kept."""
        return f"{PREFIX}:{self.queue}:wanted"

    def idempotency(self, tenant: str, key_digest: str) -> str:
        """String: what the first request with an Idempotency-Key made (kept a day)."""
        return f"{PREFIX}:{self.queue}:idem:{tenant}:{key_digest}"

    @property
    def delayed(self) -> str:
        """Sorted set of the jobs waiting for a time (a delay, a retry's backoff), scored by that time."""
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

    @property
    def outbox(self) -> str:
        """Sorted set: webhook deliveries to attempt, by when (a claimed one: by when its lease ends)."""
        return f"{PREFIX}:{self.queue}:outbox"

    @property
    def outbox_wake(self) -> str:
        """List of tokens that wake an idle webhook dispatcher (BLPOP), one per delivery written."""
        return f"{PREFIX}:{self.queue}:outbox:wake"

    @property
    def delivery_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:delivery:"

    def delivery(self, message_id: str) -> str:
        """Hash: one webhook message (event, subject, tenant, url, body once built, state, attempts)."""
        return self.delivery_prefix + message_id

    def delivery_attempts(self, message_id: str) -> str:
        """List of a message's delivery attempts (JSON: time, HTTP status, duration, error), oldest first."""
        return f"{self.delivery_prefix}{message_id}:attempts"

    @property
    def deliveries_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:deliveries:"

    def deliveries(self, subject: str) -> str:
        """List of the webhook messages about one job or batch, oldest first."""
        return self.deliveries_prefix + subject

    @property
    def endpoint_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:endpoint:"

    def endpoint(self, tenant: str) -> str:
        """Hash: a tenant's webhook endpoint (url, secret, the previous secret and until when it signs too)."""
        return self.endpoint_prefix + tenant

    @property
    def batch_prefix(self) -> str:
        return f"{PREFIX}:{self.queue}:batch:"

    def batch(self, batch_id: str) -> str:
        """Hash: a batch (tenant, expected jobs, callback url, jobs per ended status, when it completed)."""
        return self.batch_prefix + batch_id

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
    def history(self) -> str:
        """List of the queue's samples for the dashboard's charts (JSON), newest first, bounded."""
        return f"{PREFIX}:{self.queue}:history"

    @property
    def latency(self) -> str:
        """Hash: histogram of seconds from upload to done."""
        return f"{PREFIX}:{self.queue}:hist:latency"

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
