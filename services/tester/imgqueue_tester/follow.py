"""Following the jobs the tester uploaded: live over ``/events``, with polling as the safety net."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from imgqueue_client import TERMINAL, ApiError, Client
from imgqueue_client.statuses import FAILED


@dataclass
class Tracked:
    """One image of the run: its upload, its job's latest status and, once it ended, its record."""

    path: Path
    job_id: str = ""
    status: str = "uploading"
    error: str = ""
    finished_at: float = 0.0
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def end(self, status: str, error: str = "") -> None:
        self.status, self.error = status, error or self.error
        self.finished_at = self.finished_at or time.monotonic()


def upload(client: Client, item: Tracked, form: dict[str, Any]) -> None:
    try:
        accepted = client.submit(item.path, **form)
    except ApiError as exc:
        item.end(FAILED, f"HTTP {exc.status} {exc.code}: {exc.message}")
        return
    except (requests.RequestException, ValueError) as exc:
        item.end(FAILED, f"upload error: {exc}")
        return
    item.job_id, item.status = accepted["jobId"], accepted["status"]


class EventFollower(threading.Thread):
    """Follows ``GET /events`` in the background and keeps the newest status of every job it hears of.
    ``failed`` turns true when the stream cannot be had or breaks: the caller then polls instead."""

    def __init__(self, client: Client) -> None:
        super().__init__(name="events", daemon=True)
        self.client = client
        self.latest: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.failed = False
        self._closing = False

    def run(self) -> None:
        try:
            for event in self.client.iter_events():
                self.connected.set()
                if event.name == "job":
                    self._record(event.data)
                elif event.name in ("overflow", "resync", "stop"):
                    raise requests.RequestException(f"stream ended: {event.name}")
        except (requests.RequestException, ApiError, ValueError) as exc:
            if not self._closing:
                print(f"live events unavailable ({exc}); polling instead", file=sys.stderr)
        finally:
            self.failed = True
            self.connected.set()

    def _record(self, event: dict[str, Any]) -> None:
        with self.lock:
            known = self.latest.get(event["id"])
            if known is None or float(event.get("ts", 0)) >= float(known.get("ts", 0)):
                self.latest[event["id"]] = event

    def apply(self, items: list[Tracked]) -> list[Tracked]:
        """Copy the streamed statuses onto ``items``; returns those that just reached the end."""
        finished: list[Tracked] = []
        with self.lock:
            for item in items:
                event = self.latest.get(item.job_id)
                if event and not item.ended:
                    item.status = event["status"]
                    if item.ended:
                        item.end(item.status)
                        finished.append(item)
        return finished

    def close(self) -> None:
        """Stop listening. The thread is a daemon blocked in a read: closing the response from here
        would wait for that read to time out, so it is left to end with the process."""
        self._closing = True


def poll(client: Client, items: list[Tracked], refresh: bool = False) -> None:
    """Read the records of unfinished jobs (or, with ``refresh``, of all ``items``) over HTTP."""
    pending = {i.job_id: i for i in items if i.job_id and (refresh or not i.ended)}
    try:
        records = client.jobs(pending)
    except (requests.RequestException, ApiError, ValueError):
        return
    for record in records:
        item = pending[record["id"]]
        if item.ended and record["status"] not in TERMINAL:
            continue  # the stream already told us more than this (older) record
        item.status, item.record = record["status"], record
        if item.ended:
            item.end(item.status, record.get("error") or "")
