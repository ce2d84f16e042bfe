"""What an attack run found, each on real gunicorn and Redis: no 500 from any byte, limits before the body,
bodies capped per client, the right limit named, gunicorn's own errors as JSON."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

from helpers import connect, exchange, image_bytes
from imgqueue_dev.stack import LocalStack
from imgqueue_dev.waiting import wait_until

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def answer_of(s: socket.socket) -> bytes:
    """Read an answer: its head, and its body as long as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"xx") -> bytes:
    """A multipart body from (part headers, part body) pairs, bytes as given."""
    out = b"".join(b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + body + b"\r\n" for head, body in parts)
    return out + b"--" + boundary + b"--\r\n"


def post_raw(url: str, path: str, body: bytes, extra: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
            f"Content-Length: {len(body)}\r\n").encode() + extra + b"\r\n"
    return exchange(url, head + body)


def error_code(body: bytes) -> str:
    return str(json.loads(body)["error"]["code"])


def test_a_non_ascii_signature_or_ticket_is_refused_not_a_server_error(api_server: LocalStack) -> None:
    url = api_server.url
    job = requests.post(f"{url}/upload", files={"image": ("a.jpg", image_bytes())}, timeout=30).json()["jobId"]
    for sig in ("é" * 64, "\U0001f600", "%ff%fe", "\x00"):
        resp = requests.get(f"{url}/jobs/{job}/result", params={"expires": "9999999999", "sig": sig}, timeout=10)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "bad_signature", (sig, resp.text)
    resp = requests.get(f"{url}/jobs/{job}/result", params={"expires": "٩٩٩٩٩٩٩٩٩٩", "sig": "0" * 64}, timeout=10)
    assert resp.status_code == 403, "an expiry in other digits than ASCII is no expiry"


def test_a_non_ascii_ticket_is_refused_not_a_server_error(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(auth_mode="token", api_tokens="t:client:ticket-test-token-0123456")
    local.start_api()
    for ticket in ("\U0001f600.\u00e9", "a.é", "é", quote("\udcff", errors="surrogatepass")):
        resp = requests.get(f"{local.url}/events", params={"ticket": ticket}, timeout=10)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized", (ticket, resp.text)


def test_numbers_are_whole_numbers_in_ascii_digits_only(api_server: LocalStack) -> None:
    for width in ["٣٠", "３０", "3_0", "+30", " 3 0", "1e3", "30.0", "9" * 2000]:
        resp = requests.post(f"{api_server.url}/upload", files={"image": ("a.jpg", image_bytes())},
                             data={"width": width}, timeout=30)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_parameter", (width, resp.text)
        listing = requests.get(f"{api_server.url}/jobs", params={"limit": width}, timeout=10)
        assert listing.status_code == 400 and listing.json()["error"]["code"] == "invalid_parameter", width


def test_json_nested_thousands_deep_is_refused_not_a_server_error(api_server: LocalStack) -> None:
    """Python's JSON parser gives up on deep nesting with a RecursionError, not the ValueError of bad JSON."""
    deep = "[" * 20_000 + "]" * 20_000  # 40 KB: within what every route takes
    resp = requests.post(f"{api_server.url}/upload", files={"image": ("a.jpg", image_bytes())},
                         data={"variants": deep}, timeout=30)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_parameter", resp.text
    resp = requests.post(f"{api_server.url}/batches", data=deep, headers={"Content-Type": "application/json"},
                         timeout=30)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_body", resp.text


def test_a_form_part_whose_headers_are_not_utf8_is_refused_clearly(api_server: LocalStack) -> None:
    part = (b'Content-Disposition: form-data; name="image"; filename="caf\xe9.jpg"\r\nContent-Type: image/jpeg',
            image_bytes())
    status, _, body = post_raw(api_server.url, "/upload", multipart([part]))
    assert status == 400 and error_code(body) == "invalid_body", body
    assert b"UTF-8" in body
    utf8 = (part[0].replace(b"caf\xe9", "café".encode()), part[1])
    status, _, body = post_raw(api_server.url, "/upload", multipart([utf8]))
    assert status == 202, body


def test_too_many_form_parts_or_a_large_field_name_their_own_limits(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_form_parts=100, max_field_bytes=200_000)
    local.start_api()
    image = (b'Content-Disposition: form-data; name="image"; filename="a.jpg"', image_bytes())
    fields = [(f'Content-Disposition: form-data; name="f{i}"'.encode(), b"x") for i in range(150)]
    status, _, body = post_raw(local.url, "/upload", multipart([image, *fields]))
    assert status == 413 and error_code(body) == "form_too_large", body
    assert b"100 parts" in body and b"209715200" not in body, "the form's own limit, not the request's"
    big = (b'Content-Disposition: form-data; name="background"', b"#" * 1_000_000)
    status, _, body = post_raw(local.url, "/upload", multipart([image, big]))
    assert status == 413 and error_code(body) == "form_too_large" and b"200000 bytes" in body, body


def test_post_jobs_checks_the_rate_limit_before_reading_the_body(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(upload_rate_limit=1, upload_rate_window=60.0)
    local.start_api()
    assert requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes())}, timeout=30).ok
    with connect(local.url) as s:
        s.sendall(b"POST /jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                  b"Content-Length: 40000000\r\n\r\n--xx\r\n")  # the body is announced, never sent
        answer = answer_of(s)
    assert b" 429 " in answer.split(b"\r\n", 1)[0] and b"rate_limited" in answer, answer[:300]


def test_a_body_larger_than_the_route_takes_is_refused_from_its_length(api_server: LocalStack) -> None:
    for path in ("/events/ticket", "/upload"):
        length = 10**12 if path == "/upload" else 10**6
        with connect(api_server.url) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {length}\r\n\r\n".encode())
            answer = answer_of(s)
            assert s.recv(10) == b"", "the connection ends: the announced body is never read"
        assert b" 413 " in answer.split(b"\r\n", 1)[0] and b"request_too_large" in answer, (path, answer[:300])


@pytest.fixture
def slow_bodies(local: LocalStack) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for s in opened:
        s.close()


def test_slow_bodies_are_capped_per_client_and_health_checks_stay_answered(
        local: LocalStack, slow_bodies: list[socket.socket]) -> None:
    local.settings = local.settings.with_overrides(max_bodies_per_client=4, api_worker_connections=40,
                                                   body_read_timeout=30.0)
    local.start_api(processes=1)
    refused = 0
    for _ in range(24):  # the attack: two dozen bodies that trickle in
        s = connect(local.url)
        s.sendall(b"POST /jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                  b"Content-Length: 1000000\r\n\r\n--xx\r\n")
        s.settimeout(0.5)
        try:
            answer = answer_of(s)
            refused += b" 429 " in answer and b"too_many_uploads" in answer
        except TimeoutError:
            pass  # being read, slowly
        slow_bodies.append(s)
    assert refused == 20, f"four bodies per client at once; the rest refused before being read ({refused})"
    t0 = time.perf_counter()
    assert requests.get(f"{local.url}/healthz", timeout=5).status_code == 200
    assert time.perf_counter() - t0 < 2
    for s in slow_bodies:
        s.close()
    wait_until(lambda: requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes())},
                                     timeout=10).status_code == 202, 30, "the slots to be free again")


MALFORMED = [
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS spoken to plain HTTP
]


def test_gunicorns_own_errors_are_json_with_the_security_headers(api_server: LocalStack) -> None:
    for raw in MALFORMED:
        status, headers, body = exchange(api_server.url, raw)
        assert 400 <= status < 500, (raw[:40], status, body[:200])
        assert headers["content-type"] == "application/json", headers
        assert error_code(body) and len(body) < 600, body
        assert all(h.lower() in headers for h in SECURITY_HEADERS), headers


def test_requests_keep_working_while_bodies_are_refused(api_server: LocalStack) -> None:
    """A refused body closes its connection rather than being read to its end: the server stays free."""
    threads = [threading.Thread(target=lambda: post_raw(api_server.url, "/events/ticket", b"x" * 100_000))
               for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert requests.get(f"{api_server.url}/readyz", timeout=5).status_code == 200
