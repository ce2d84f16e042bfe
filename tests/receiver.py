"""A webhook receiver on loopback for the tests: a real HTTP server in a thread that records every request
(headers, body) and answers as told: a status per request in turn (then 200), or a redirect."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    answers: list[int] = field(default_factory=list)  # statuses to answer, in turn; 200 after them
    location: str = ""  # with a 3xx answer: where it points
    delay: float = 0.0  # seconds each answer takes (a slow receiver)
    in_flight: int = 0
    most_in_flight: int = 0  # the most requests it held at once
    got: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.in_flight -= 1
                    receiver.got.append(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextmanager
def receiving(receiver: Receiver | None = None, host: str = "127.0.0.1", port: int = 0) -> Iterator[Receiver]:
    """A receiver listening on ``host`` (a free port unless ``port``), stopped afterwards."""
    receiver = receiver or Receiver()
    server = ThreadingHTTPServer((host, port), receiver.handler())
    server.daemon_threads = True
    receiver.url = f"http://{host}:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
