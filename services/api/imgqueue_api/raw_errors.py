"""gunicorn's own error answers (a malformed request line or header, ``Content-Length: -1``, headers too
large) as JSON with the security headers, like every other answer: gunicorn writes them before any
request reaches Flask, as HTML by default. ``gunicorn_conf`` installs ``write_error`` in each worker."""

from __future__ import annotations

import json
import socket

from gunicorn import util

from .security import HEADERS

# gunicorn's statuses for a request it could not read, as this API's error codes.
CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
         431: "headers_too_large", 501: "not_implemented"}
MAX_MESSAGE = 200  # what gunicorn quotes of the request, cut short: errors never carry a request back


def write_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps({"error": {"code": CODES.get(status_int, "internal_error"),
                                 "message": (mesg or reason)[:MAX_MESSAGE]}}).encode()
    head = [f"HTTP/1.1 {status_int} {reason}", "Connection: close", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in HEADERS.items())]
    util.write_nonblock(sock, ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def install() -> None:
    util.write_error = write_error  # gunicorn's workers call util.write_error by name
