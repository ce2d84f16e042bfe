"""``GET /metrics`` in Prometheus text format.

Queue and worker figures are read from Redis at scrape time (workers serve no HTTP: they keep counters
and histograms in Redis, updated by the same Lua scripts that record each transition), so every API
replica reports the same numbers. API request latency is measured in each gunicorn process and merged
through prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from functools import cache

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from imgqueue.status import Delivery, JobStatus, Priority
from imgqueue.store import Histogram as QueueHistogram
from imgqueue.store import Store

from . import admission, auth, state

bp = Blueprint("metrics", __name__)

_COUNTERS = {
    "enqueued": ("imgqueue_jobs_enqueued", "Jobs accepted and queued"),
    "started": ("imgqueue_jobs_started", "Job runs started by a worker (re-runs included)"),
    JobStatus.DONE.value: ("imgqueue_jobs_completed", "Jobs that ended done"),
    "retried": ("imgqueue_jobs_retried", "Retries scheduled after a transient error"),
    "lost": ("imgqueue_jobs_lost", "Times a job's worker process died running it, its supervisor alive"),
    "vanished": ("imgqueue_jobs_vanished", "Times a job's whole worker vanished while running it"),
    JobStatus.CANCELLED.value: ("imgqueue_jobs_cancelled", "Jobs cancelled"),
    "resubmitted": ("imgqueue_jobs_resubmitted", "Failed or cancelled jobs a client retried"),
    "deduplicated": ("imgqueue_jobs_deduplicated", "Uploads done at once, sharing an identical job's output"),
    "recovered": ("imgqueue_jobs_recovered", "Jobs handed back to the queue after their worker died"),
    "upload_bytes": ("imgqueue_upload_bytes", "Bytes of accepted uploads"),
}


@cache
def request_latency() -> Histogram:
    return Histogram("imgqueue_api_request_duration_seconds", "API request latency",
                     ["route", "method", "status"],
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class RedisCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        stats = self.store.stats()
        for field, (name, doc) in _COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=stats.get(field, 0))
        failed = CounterMetricFamily("imgqueue_jobs_failed", "Jobs that ended failed, by reason", labels=["reason"])
        for field, value in stats.items():
            if field.startswith(f"{JobStatus.FAILED.value}:"):
                failed.add_metric([field.split(":", 1)[1]], value)
        yield failed
        depth = GaugeMetricFamily("imgqueue_queue_depth", "Jobs waiting in the queues, by priority",
                                  labels=["priority"])
        for priority in Priority:
            depth.add_metric([priority.value], stats.get(f"{JobStatus.QUEUED.value}:{priority.value}", 0))
        yield depth
        yield GaugeMetricFamily("imgqueue_jobs_delayed", "Jobs waiting for the time they were scheduled for",
                                value=stats[JobStatus.DELAYED.value])
        yield GaugeMetricFamily("imgqueue_jobs_retrying", "Jobs waiting out a retry backoff",
                                value=stats[JobStatus.RETRYING.value])
        yield GaugeMetricFamily("imgqueue_jobs_processing", "Jobs being processed", value=stats["processing"])
        yield GaugeMetricFamily("imgqueue_workers_alive", "Worker processes with a fresh heartbeat",
                                value=stats["workers"])
        stored = GaugeMetricFamily("imgqueue_stored_bytes", "Bytes of files kept: uploads not yet processed, "
                                   "outputs not yet expired", labels=["kind"])
        stored.add_metric(["uploads"], max(0, stats.get("stored_upload_bytes", 0)))
        stored.add_metric(["outputs"], max(0, stats.get("stored_output_bytes", 0)))
        yield stored
        hooks = CounterMetricFamily("imgqueue_webhooks", "Webhook messages that ended, by how", labels=["state"])
        for ended in (Delivery.DELIVERED, Delivery.DEAD):
            hooks.add_metric([ended.value], stats.get(f"webhooks_{ended.value}", 0))
        yield hooks
        yield CounterMetricFamily("imgqueue_webhook_attempts", "Webhook delivery attempts",
                                  value=stats.get("webhook_attempts", 0))
        yield GaugeMetricFamily("imgqueue_webhooks_pending", "Webhook messages waiting to be delivered",
                                value=self.store.outbox.pending())
        histograms = self.store.counters.histograms()
        yield _family("imgqueue_job_processing_seconds", "Time to resize one job", histograms["processing"])
        yield _family("imgqueue_job_queue_wait_seconds", "Time from enqueue to start", histograms["wait"])
        yield _family("imgqueue_job_latency_seconds", "Time from upload to done", histograms["latency"])
        used, most = self.store.counters.memory()
        yield GaugeMetricFamily("imgqueue_redis_memory_used_bytes", "Memory Redis uses", value=used)
        yield GaugeMetricFamily("imgqueue_redis_memory_max_bytes", "Redis' maxmemory (0: none)", value=most)
        disk = GaugeMetricFamily("imgqueue_disk_free_bytes", "Free bytes where uploads are kept (path "
                                 "'uploads', local storage) and where request bodies are spooled", labels=["path"])
        for path, free in admission.free_space().items():
            disk.add_metric([path], free)
        yield disk


def _family(name: str, doc: str, histogram: QueueHistogram) -> HistogramMetricFamily:
    buckets = [("+Inf" if bound == float("inf") else repr(bound), count) for bound, count in histogram.buckets]
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=histogram.sum)


def install(app: Flask) -> None:
    """Time every request (route template, not the raw path, so job ids do not explode the labels)."""

    @app.before_request
    def _start() -> None:
        g.imgqueue_t0 = time.perf_counter()

    @app.after_request
    def _observe(resp: Response) -> Response:
        t0 = g.get("imgqueue_t0")
        if t0 is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            request_latency().labels(route, request.method, str(resp.status_code)).observe(time.perf_counter() - t0)
        return resp

    app.register_blueprint(bp)


@bp.get("/scaling")
@auth.allow("admin", "metrics")
def scaling() -> Response:
    """What an autoscaler (KEDA's metrics-api scaler) needs: ``backlog`` counts the jobs that need a worker
    now: those queued, those being processed (scaling in must not take their workers away), and those whose
    time has come (a delay, a retry's backoff) but that no worker has moved to their queue yet. Jobs due
    later need no worker yet."""
    store = state.get().store
    counts = store.stats()
    due, later = store.jobs.due_later(time.time())
    queued, processing = counts[JobStatus.QUEUED.value], counts["processing"]
    return jsonify(backlog=queued + processing + due, queued=queued, processing=processing, due=due,
                   waiting=later, delayed=counts[JobStatus.DELAYED.value], workers=counts["workers"])


@bp.get("/metrics")
@auth.allow("admin", "metrics")
def metrics() -> Response:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessLocal())
    registry.register(RedisCollector(state.get().store))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _ProcessLocal(Collector):
    """Single-process mode (tests, a plain ``flask run``): the latency histogram of this process."""

    def collect(self) -> Iterator[Metric]:
        yield from request_latency().collect()
