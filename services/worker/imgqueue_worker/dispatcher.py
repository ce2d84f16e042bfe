"""Delivers webhook messages from the outbox (written by the Lua scripts that end jobs and batches).

A dispatcher claims due messages under a lease (a dispatcher killed mid-delivery leaves them to another:
at least once, with the same ``webhook-id``), and posts each from a pool of threads, so a slow receiver
holds one thread for at most its timeouts, and one tenant holds at most WEBHOOK_TENANT_CONCURRENCY of them
(the rest of its messages wait a second and come back). A failed attempt is retried with exponential backoff
and jitter until WEBHOOK_MAX_AGE, then the message is dead; a refused URL (its address not allowed) is dead
at once. Jobs never wait for any of this: dispatchers are processes of their own."""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException
from types import FrameType
from typing import Any

from imgqueue import outbound, public, webhooks
from imgqueue.errors import ConfigError, JobNotFound
from imgqueue.status import BATCH_COMPLETED, Delivery
from imgqueue.store import UNAVAILABLE, Message, Store

from .settings import WorkerSettings

log = logging.getLogger(__name__)
IDLE_WAIT = 5.0  # seconds an idle dispatcher blocks for a wake-up token at most
TENANT_WAIT = 1.0  # seconds a message of a tenant at its cap waits before it is looked at again


class _Stopping(Exception):
    """Raised by the stop signal's handler to end an idle wait."""


class Dispatcher:
    def __init__(self, settings: WorkerSettings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store.from_settings(settings)
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(settings.webhook_concurrency, thread_name_prefix="webhook")
        self.lock = threading.Lock()
        self.busy: Counter[str] = Counter()  # tenant -> deliveries in flight
        self.rng = random.Random()
        self.idle = False  # blocked waiting for a message: a stop signal interrupts it

    @property
    def lease(self) -> float:
        """How long a claimed message is this dispatcher's: connecting, and reading the answer, and spare."""
        return 3 * self.settings.webhook_timeout + 10

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: stop taking messages, finish those in flight; an idle wait ends at once."""
        def _stop(signum: int, frame: FrameType | None) -> None:
            self.stop.set()
            if self.idle:
                raise _Stopping
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def run(self) -> None:
        log.info("webhook dispatcher starting: concurrency=%d", self.settings.webhook_concurrency)
        while not self.stop.is_set():
            try:
                self.turn()
            except UNAVAILABLE as exc:
                log.warning("webhook dispatcher: redis unavailable (%s); trying again in 1 s", exc)
                self.stop.wait(1.0)
        self.pool.shutdown(wait=True)  # the deliveries in flight end within their timeouts

    def turn(self) -> None:
        """Claim what is due and may start now; or wait for a message, or for the next one's time."""
        with self.lock:
            free = self.settings.webhook_concurrency - sum(self.busy.values())
        if free <= 0:
            self.stop.wait(0.05)
            return
        messages, next_due = self.store.outbox.claim(free, self.lease)
        for message in messages:
            self.start(message)
        if not messages and not self.stop.is_set():
            try:
                self.idle = True
                self.store.outbox.wait(min(IDLE_WAIT, next_due - time.time()) if next_due else IDLE_WAIT)
            except _Stopping:
                pass
            finally:
                self.idle = False

    def start(self, message: Message) -> None:
        with self.lock:
            if self.busy[message.tenant] >= self.settings.webhook_tenant_concurrency:
                self.store.outbox.postpone(message.id, time.time() + TENANT_WAIT)
                return
            self.busy[message.tenant] += 1
        self.pool.submit(self._deliver_and_release, message)

    def _deliver_and_release(self, message: Message) -> None:
        try:
            self.deliver(message)
        except Exception:  # a thread of the pool must not die on one message
            log.exception("webhook=%s delivery crashed; it is tried again when its lease ends", message.id)
        finally:
            with self.lock:
                self.busy[message.tenant] -= 1

    def deliver(self, message: Message) -> None:
        """One attempt, recorded: delivered, pending again after a backoff, or dead."""
        started = time.time()
        attempt: dict[str, Any] = {"at": round(started, 3), "status": None, "ms": 0, "error": ""}
        state = Delivery.PENDING
        try:
            url, secrets = self.destination(message)
            body = self.store.outbox.keep_body(message.id, self.payload(message)).encode()
            answer = outbound.post(url, body, webhooks.headers(message.id, int(time.time()), body, secrets),
                                   self.settings.outbound)
            attempt.update(status=answer.status, ms=round(answer.ms, 1))
            if 200 <= answer.status < 300:
                state = Delivery.DELIVERED
            else:
                attempt["error"] = f"HTTP {answer.status}" + (" (redirects are not followed)"
                                                              if 300 <= answer.status < 400 else "")
        except (outbound.Refused, ConfigError) as exc:
            attempt["error"], state = str(exc), Delivery.DEAD
        except (OSError, HTTPException) as exc:
            attempt.update(error=f"{type(exc).__name__}: {exc}"[:300], ms=round((time.time() - started) * 1000, 1))
        next_at = 0.0
        if state is Delivery.PENDING:
            next_at = time.time() + webhooks.backoff(message.attempts + 1, self.settings.webhook_retry_base, self.rng)
            if next_at - message.created_at > self.settings.webhook_max_age:
                state = Delivery.DEAD
        self.store.outbox.attempted(message.id, attempt, state, next_at)
        log.info("webhook=%s event=%s subject=%s attempt=%d state=%s status=%s ms=%s%s", message.id, message.event,
                 message.subject, message.attempts + 1, state.value, attempt["status"], attempt["ms"],
                 f" error={attempt['error']!r}" if attempt["error"] else "")

    def destination(self, message: Message) -> tuple[str, list[str]]:
        """Where to send (the message's URL, or its tenant's endpoint) and the secrets that sign it."""
        url, secrets = self.store.endpoints.destination(message.tenant, self.settings.webhook_secret, time.time())
        if not secrets:
            raise ConfigError(f"tenant {message.tenant!r} has no webhook secret (imgqueue-admin webhooks create)"
                              if message.tenant else "WEBHOOK_SECRET is not set: open mode's webhooks cannot be signed")
        return message.url or url, secrets

    def payload(self, message: Message) -> str:
        """The body: the job (or batch) as the API shows it to its owner, the event and when it happened."""
        if message.event == BATCH_COMPLETED:
            found = self.store.batches.get(message.subject)
            data = public.batch(found) if found else {"batchId": message.subject}
        else:
            data = self.job_data(message.subject)
        return webhooks.envelope(message.event, data, message.created_at)

    def job_data(self, job_id: str) -> dict[str, Any]:
        try:
            job = self.store.jobs.get(job_id)
        except JobNotFound:
            return {"id": job_id}
        base = self.settings.public_api_url.rstrip("/")

        def link(jid: str, name: str) -> str:
            return f"{base}/jobs/{jid}/result" + (f"/{name}" if name else "")
        data = public.for_owner(public.record(job, link))
        return {**data, "statusUrl": f"{base}/jobs/{job.id}/status", "jobUrl": f"{base}/jobs/{job.id}",
                "resultUrl": link(job.id, "")}
