"""``--callback``: a webhook receiver built into the tester. It listens on ``--callback-host`` (a free port),
gives the API its URL as every job's ``callbackUrl``, verifies what arrives with the webhook secret
(``--webhook-secret``, or WEBHOOK_SECRET) when it has one, and prints each delivery."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

from imgqueue_client import WebhookError, verify_webhook

MAX_BODY = 1024 * 1024


class HookReceiver:
    def __init__(self, host: str, secret: str | None, out: TextIO = sys.stderr) -> None:
        self.secret, self.out = secret, out
        self.seen: dict[str, str] = {}  # job or batch id -> event type
        self.repeats = self.unverified = 0
        self.ids: set[str] = set()
        self.expected: list[str] = []  # the jobs uploaded
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/imgqueue-webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self) -> HookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def received(self, headers: dict[str, str], body: bytes) -> int:
        """Record one delivery; the HTTP status to answer (401 when it does not verify)."""
        try:
            payload = verify_webhook(self.secret, headers, body) if self.secret else json.loads(body)
        except (WebhookError, ValueError) as exc:
            with self.lock:
                self.unverified += 1
            print(f"webhook REFUSED: {exc}", file=self.out)
            return 401
        subject = str(payload.get("data", {}).get("id") or payload.get("data", {}).get("batchId", ""))
        with self.lock:
            message = headers.get("webhook-id", "")
            self.repeats += message in self.ids
            self.ids.add(message)
            self.seen[subject] = str(payload.get("type"))
        mark = "verified" if self.secret else "not verified (no secret given)"
        print(f"webhook {payload.get('type')} {subject} {mark}", file=self.out)
        return 204

    def wait_for(self, subjects: set[str], deadline: float) -> set[str]:
        """Until every subject has been told of (or the deadline); those that were not."""
        while time.monotonic() < deadline:
            with self.lock:
                missing = subjects - set(self.seen)
            if not missing:
                return set()
            time.sleep(0.2)
        with self.lock:
            return subjects - set(self.seen)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
                status = receiver.received({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler
