"""Raw bytes in every part of a request (path, query, headers, form fields, file names, file contents, the
body itself), sent as they are to real gunicorn in token mode: a few hundred seeded requests, and not one
answer is a 5xx; every 4xx is JSON with an error code. (schemathesis fuzzes from the OpenAPI document;
this goes where a document cannot: bytes that are not text, headers no client would send.)"""

from __future__ import annotations

import json
import random
from urllib.parse import quote_from_bytes

import pytest

from helpers import exchange, image_bytes
from imgqueue_dev.stack import LocalStack

TOKEN = "fuzz-bytes-client-token-0123456789"
REQUESTS = 400
ROUTES = ["/upload", "/jobs", "/jobs/{id}", "/jobs/{id}/status", "/jobs/{id}/result", "/jobs/{id}/events",
          "/events", "/events/ticket", "/stats", "/me", "/metrics", "/scaling", "/healthz", "/readyz", "/docs",
          "/openapi.json", "/", "/static/{id}", "/{id}"]
FIELDS = ["image", "images", "width", "height", "fit", "format", "quality", "background", "progressive",
          "without_enlargement", "withoutEnlargement"]
PARAMS = ["limit", "status", "ids", "sig", "expires", "by", "ticket", "batch", "summary"]


def noise(rng: random.Random, size: int) -> bytes:
    """Bytes of every kind: text, UTF-8 beyond ASCII, invalid UTF-8, controls, NUL, separators."""
    pools = [b"abcxyz0123456789", "ٌé３\U0001f600".encode(), b"\xff\xfe\xc3\x28\x80", b"\x00\r\n\t\"';=&%/\\",
             bytes(range(256))]
    return bytes(rng.choice(rng.choice(pools)) for _ in range(size))


def token(rng: random.Random, text: bytes) -> bytes:
    """A header value: mostly what HTTP allows (visible bytes, spaces, obs-text: they reach the application),
    sometimes any byte but CR and LF (they reach gunicorn's parser)."""
    if rng.random() < 0.8:
        return bytes(b for b in text if b >= 0x20 and b != 0x7F) or b"x"
    return bytes(b for b in text if b not in b"\r\n") or b"x"


def in_url(rng: random.Random, text: bytes) -> bytes:
    """Bytes for a request line: percent-encoded mostly (they reach the application), raw sometimes (they
    reach gunicorn's parser)."""
    if rng.random() < 0.85:
        return quote_from_bytes(text, safe="").encode()
    return bytes(b for b in text if b not in b"\r\n ") or b"x"


def request(rng: random.Random, image: bytes) -> bytes:
    method = rng.choice([b"GET", b"GET", b"POST", b"POST", b"PUT", b"DELETE", b"OPTIONS"])
    route = rng.choice(["/upload", "/jobs"]) if method == b"POST" and rng.random() < 0.7 else rng.choice(ROUTES)
    job = rng.choice([b"0" * 32, noise(rng, rng.randint(1, 40)), b"..%2f..%2fetc"])
    path = route.encode().replace(b"{id}", in_url(rng, job))
    pairs = [rng.choice(PARAMS).encode() + b"=" + in_url(rng, noise(rng, rng.randint(0, 30)))
             for _ in range(rng.randint(0, 3))]
    query = b"&".join(pairs)
    headers = [b"Host: " + (b"localhost" if rng.random() < 0.9 else token(rng, noise(rng, 12)))]
    if rng.random() < 0.8:
        credentials = [b"Bearer " + TOKEN.encode(), b"Bearer " + token(rng, noise(rng, 20)), token(rng, noise(rng, 9))]
        headers.append(b"Authorization: " + rng.choices(credentials, weights=[6, 2, 1])[0])
    if rng.random() < 0.1:
        headers.append(b"Origin: " + token(rng, noise(rng, 15)))
    if rng.random() < 0.3:
        name = b"X-" + bytes(rng.choice(b"abcdefghij-_0123456789") for _ in range(6))
        headers.append((name if rng.random() < 0.8 else token(rng, noise(rng, 6)).replace(b":", b"")) + b": "
                       + token(rng, noise(rng, 20)))
    body = b""
    if method == b"POST":
        body, content_type = form(rng, image) if rng.random() < 0.8 else (noise(rng, rng.randint(0, 500)), None)
        headers.append(b"Content-Type: " + (content_type or token(rng, noise(rng, 20))))
        headers.append(b"Content-Length: " + str(len(body)).encode())
    line = method + b" " + path + (b"?" + query if query else b"") + b" HTTP/1.1"
    return line + b"\r\n" + b"\r\n".join(headers) + b"\r\nConnection: close\r\n\r\n" + body


def form(rng: random.Random, image: bytes) -> tuple[bytes, bytes]:
    boundary = b"fuzzb0undary"
    parts = []
    if rng.random() < 0.6:  # a real image, so that the fields around it reach the spec's parser
        name = rng.choice([b"image", b"images"])
        parts.append(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name
                     + b'"; filename="a.jpg"\r\n\r\n' + image + b"\r\n")
    for _ in range(rng.randint(1, 5)):
        name = rng.choice([*(f.encode() for f in FIELDS), token(rng, noise(rng, 8))])
        if rng.random() < 0.5:
            filename = token(rng, noise(rng, rng.randint(0, 20))).replace(b'"', b"")
            head = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"'
            content = rng.choice([image, image[: rng.randint(1, len(image))], noise(rng, rng.randint(0, 300))])
        else:
            head = b'Content-Disposition: form-data; name="' + name + b'"'
            content = token(rng, noise(rng, rng.randint(0, 40)))
        parts.append(b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n")
    return b"".join(parts) + b"--" + boundary + b"--\r\n", b"multipart/form-data; boundary=" + boundary


@pytest.mark.timeout(300)
def test_no_byte_in_any_part_of_a_request_causes_a_server_error(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(auth_mode="token", api_tokens=f"fuzz:client:{TOKEN}",
                                                   max_upload_bytes=100_000, stream_ticket_ttl=5)
    local.start_api()
    rng = random.Random(20261202)
    image = image_bytes(64, 48)
    seen: dict[str, int] = {}
    for _ in range(REQUESTS):
        raw = request(rng, image)
        status, headers, body = exchange(local.url, raw)
        content_type = headers.get("content-type", "")
        key = f"{status} {json.loads(body)['error']['code']}" if status >= 400 and body[:1] == b"{" else str(status)
        seen[key] = seen.get(key, 0) + 1
        assert status < 500, (status, body[:300], raw[:300])
        if 400 <= status < 500:
            assert content_type.startswith("application/json"), (status, content_type, raw[:200])
            assert json.loads(body)["error"]["code"], (status, body[:200])
    print(f"{REQUESTS} requests: " + ", ".join(f"{k}: {v}" for k, v in sorted(seen.items())))
    assert len([s for s in seen if s.startswith("4")]) >= 5, f"the fuzzing should reach many refusals: {seen}"
