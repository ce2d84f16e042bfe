"""What a browser may do: security headers, CORS for the allowed origins only, no cross-site uploads, Host
names checked (DNS rebinding), short error echoes and an access log that cannot be forged."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from helpers import image_bytes, wait_for
from imgqueue.store import Store
from imgqueue_api import create_app
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack

APP_ORIGIN = "https://app.example.com"


@pytest.fixture
def client(settings: StackSettings) -> Iterator[FlaskClient]:
    app = create_app({"TESTING": True, "IMGQUEUE_SETTINGS": settings.with_overrides(allowed_origins=APP_ORIGIN)})
    with app.test_client() as c:
        yield c


def upload_form() -> dict[str, object]:
    return {"image": (io.BytesIO(image_bytes()), "a.jpg"), "width": "10"}


def test_pages_and_answers_carry_security_headers(client: FlaskClient) -> None:
    for path in ("/", "/static/dashboard.js", "/healthz", "/docs"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_cors_preflight_for_allowed_origins_only(client: FlaskClient) -> None:
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = client.options("/upload", headers={"Origin": APP_ORIGIN, **asked})
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    assert "authorization" in ok.headers["Access-Control-Allow-Headers"].lower()
    assert "Origin" in ok.headers["Vary"]
    refused = client.options("/upload", headers={"Origin": "https://evil.example", **asked})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    assert refused.json["error"]["code"] == "origin_not_allowed"


def test_no_cross_site_upload_even_without_a_preflight(client: FlaskClient, store: Store) -> None:
    """multipart/form-data is a 'simple' request: a page elsewhere could post one without asking first."""
    resp = client.post("/upload", data=upload_form(), content_type="multipart/form-data",
                       headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403 and resp.json["error"]["code"] == "origin_not_allowed"
    assert store.jobs.depth() == 0
    same = client.post("/upload", data=upload_form(), content_type="multipart/form-data",
                       headers={"Origin": "http://localhost"})
    assert same.status_code == 202, "the API's own pages may upload"
    allowed = client.post("/upload", data=upload_form(), content_type="multipart/form-data",
                          headers={"Origin": APP_ORIGIN})
    assert allowed.status_code == 202 and allowed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_dns_rebinding_host_is_refused_in_open_mode(client: FlaskClient) -> None:
    rebound = client.get("/jobs", headers={"Host": "attacker.example:8000"})
    assert rebound.status_code == 400 and rebound.json["error"]["code"] == "host_not_allowed"
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "api:8000"):
        assert client.get("/jobs", headers={"Host": host}).status_code == 200, host
    assert client.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200, "healthchecks by IP"


def test_errors_echo_little_of_what_was_sent(client: FlaskClient) -> None:
    huge = "x" * 10_000
    for form in ({"fit": huge}, {"width": huge}, {"background": huge}, {"format": huge}, {"progressive": huge}):
        resp = client.post("/upload", data={**upload_form(), **form}, content_type="multipart/form-data")
        assert resp.status_code == 400 and len(resp.json["error"]["message"]) < 250, form
    assert len(client.get(f"/jobs/{huge}").json["error"]["message"]) < 250


def test_a_newline_in_a_path_cannot_forge_an_access_log_line(api_server: LocalStack) -> None:
    host, port = api_server.url.removeprefix("http://").split(":")
    forged = "ts=2000-01-01 level=INFO logger=access forged=yes"
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET /nowhere%0A{forged.replace(' ', '%20')}%22 HTTP/1.1\r\nHost: localhost\r\n"
                  "Connection: close\r\n\r\n".encode())
        assert b"404" in s.recv(1024)
    log = api_server.log_dir / "api.log"  # type: ignore[operator]
    wait_for(lambda: "nowhere" in log.read_text(), 10, "the access log line")
    time.sleep(0.2)
    lines = log.read_text().splitlines()
    assert not any(line.startswith("ts=2000-01-01") for line in lines), "a forged line"
    line = next(line for line in lines if "nowhere" in line)
    assert "\\n" in line and "forged=yes" in line and 'path="/nowhere\\nts=' in line
