"""Tenants and tokens against real gunicorn and Redis: owned jobs, roles, revocation, signed links,
stream tickets, and the refusal to run open on a public address."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from helpers import image_bytes, wait_for
from imgqueue_client import ApiError, Client
from imgqueue_dev.procs import free_port
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack, Service

ACME, GLOBEX, OPS, SCRAPE = ("acme-token-0123456789abcdef", "globex-token-0123456789abcdef",
                             "ops-admin-token-0123456789ab", "prometheus-scrape-token-0123")


@pytest.fixture
def secured(local: LocalStack) -> LocalStack:
    """The API in token mode with two client tenants, an admin and a scrape token, and one worker."""
    local.settings = local.settings.with_overrides(
        auth_mode="token", api_tokens=f"acme:client:{ACME},globex:client:{GLOBEX},ops:admin:{OPS}",
        metrics_token=SCRAPE, result_url_ttl=600)
    local.start_api()
    local.start_workers(1)
    return local


def done_job(client: Client) -> str:
    job_id = str(client.submit(image_bytes(400, 300), 100, 100, filename="a.jpg")["jobId"])
    assert client.wait(job_id, timeout=30)["status"] == "done"
    return job_id


def status_of(call: object) -> int:
    try:
        call()  # type: ignore[operator]
    except ApiError as exc:
        return exc.status
    return 200


def test_two_tenants_see_only_their_own_jobs(secured: LocalStack) -> None:
    acme, globex, ops = (secured.client_with(t) for t in (ACME, GLOBEX, OPS))
    mine, theirs = done_job(acme), done_job(globex)
    assert [j["id"] for j in acme.jobs([mine, theirs])] == [mine]
    listed = acme._json("GET", "/jobs")["jobs"]
    assert [j["id"] for j in listed] == [mine]
    for call in (lambda: acme.job(theirs), lambda: acme.status(theirs),
                 lambda: acme.download(theirs, os.devnull)):
        assert status_of(call) == 404, "another tenant's job is unknown, not forbidden: no oracle"
    resp = acme.session.get(f"{secured.url}/jobs/{theirs}/events", timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "job_not_found"
    record = acme.job(mine)
    assert record["tenant"] == "acme"
    assert not {"input_path", "output_path", "worker"} & set(record), "no paths, host or pid for a client"
    assert {"input_path", "output_path", "worker"} <= set(ops.job(mine)), "admins see everything"
    assert {j["id"] for j in ops._json("GET", "/jobs")["jobs"]} == {mine, theirs}


def test_roles_and_missing_tokens(secured: LocalStack) -> None:
    url = secured.url
    anonymous = requests.get(f"{url}/jobs", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = requests.get(f"{url}/jobs", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert status_of(lambda: secured.client_with(ACME).stats()) == 403
    assert secured.client_with(OPS).stats()["counts"] is not None
    bearer = {"Authorization": f"Bearer {SCRAPE}"}
    assert requests.get(f"{url}/metrics", headers=bearer, timeout=10).status_code == 200
    assert requests.get(f"{url}/jobs", headers=bearer, timeout=10).status_code == 403
    assert requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {ACME}"}, timeout=10).status_code == 403
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
    assert requests.get(f"{url}/openapi.json", timeout=10).status_code == 200


def admin(settings: StackSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "imgqueue_api.admin", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_created_token_works_and_revoked_token_fails_at_once(secured: LocalStack) -> None:
    created = admin(secured.settings, "tokens", "create", "--tenant", "initech", "--label", "ci")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("iq_") and token not in created.stderr
    client = secured.client_with(token)
    assert client.me() == {"tenant": "initech", "role": "client", "authMode": "token"}
    listing = admin(secured.settings, "tokens", "list").stdout
    token_id = next(line.split()[0] for line in listing.splitlines() if "initech" in line)
    assert token not in listing, "tokens are stored hashed and never shown again"
    assert admin(secured.settings, "tokens", "revoke", token_id).returncode == 0
    assert status_of(client.me) == 401, "a revoked token fails on the next request, without a restart"
    assert admin(secured.settings, "tokens", "revoke", token_id).returncode == 1


def mutations(link: str) -> list[str]:
    """The link with one character of its path, expiry or signature changed."""
    out = []
    for i, ch in enumerate(link):
        if ch in "/?=&":
            continue
        swap = "0" if ch != "0" else "1"
        out.append(link[:i] + swap + link[i + 1:])
    return out


def test_signed_result_link_without_a_header(secured: LocalStack) -> None:
    acme = secured.client_with(ACME)
    job_id = done_job(acme)
    link = acme.job(job_id)["resultUrl"]
    query = dict(parse_qsl(urlsplit(link).query))
    assert set(query) == {"expires", "by", "sig"}, "the link names the token it was made for (revocation ends it)"
    resp = requests.get(secured.url + link, timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    cache = resp.headers["Cache-Control"]
    assert cache.startswith("public, max-age=") and 0 < int(cache.rsplit("=", 1)[1]) <= 600
    with_token = acme.session.get(f"{secured.url}/jobs/{job_id}/result", timeout=10)
    assert with_token.status_code == 200 and with_token.headers["Cache-Control"].startswith("private")
    assert requests.get(f"{secured.url}/jobs/{job_id}/result", timeout=10).status_code == 401
    for bad in mutations(link):
        status = requests.get(secured.url + bad, timeout=10).status_code
        assert status in (401, 403, 404), (bad, status)  # 404: path changed; 401: a parameter renamed


def test_signed_link_expires(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(auth_mode="token", api_tokens=f"acme:client:{ACME}",
                                                   result_url_ttl=1)
    local.start_api()
    local.start_workers(1)
    acme = local.client_with(ACME)
    job_id = done_job(acme)
    link = acme.job(job_id)["resultUrl"]
    time.sleep(2.1)
    resp = requests.get(local.url + link, timeout=10)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "link_expired"


def test_stream_ticket_opens_the_stream_of_the_tickets_tenant_only(secured: LocalStack) -> None:
    acme, globex = secured.client_with(ACME), secured.client_with(GLOBEX)
    ticket = acme._json("POST", "/events/ticket")["ticket"]
    with requests.get(f"{secured.url}/events", params={"ticket": ticket, "summary": "1"}, stream=True,
                      timeout=30) as resp:
        assert resp.status_code == 200
        ours = str(acme.submit(image_bytes(), 50, 50)["jobId"])
        other = str(globex.submit(image_bytes(), 50, 50)["jobId"])
        seen: set[str] = set()
        lines = resp.iter_lines(decode_unicode=True)
        wait_for(lambda: _read_until_done(lines, ours, seen), 30, "acme's job to finish on the stream")
    assert other not in seen, "a tenant's stream carries its own jobs only"
    assert requests.get(f"{secured.url}/events", params={"ticket": ticket[:-1] + "x"}, timeout=10).status_code == 401


def _read_until_done(lines: object, job_id: str, seen: set[str]) -> bool:
    import json

    for line in lines:  # type: ignore[attr-defined]
        if line.startswith("event: summary"):
            raise AssertionError("summaries (queue-wide counts) are for admins only")
        if line.startswith("data:"):
            event = json.loads(line[5:])
            seen.add(event.get("id", ""))
            assert "worker" not in event
            if event.get("id") == job_id and event.get("status") == "done":
                return True
    return False


def gunicorn(settings: StackSettings, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run(Service.API.argv(), env=env, capture_output=True, text=True, timeout=timeout)


def test_open_mode_refuses_a_public_bind(settings: StackSettings) -> None:
    exposed = settings.with_overrides(auth_mode="open", api_bind="0.0.0.0", api_port=free_port())
    result = gunicorn(exposed)
    assert result.returncode != 0
    assert "AUTH_MODE=open" in result.stderr and "0.0.0.0" in result.stderr and "AUTH_MODE=token" in result.stderr


def test_token_mode_starts_on_a_public_bind_with_the_hosts_it_answers_to(local: LocalStack) -> None:
    public = local.settings.with_overrides(auth_mode="token", api_bind="0.0.0.0", api_tokens=f"acme:client:{ACME}",
                                           api_port=free_port(), allowed_hosts="127.0.0.1")
    env = {**os.environ, **public.to_env(), "ALLOWED_HOSTS": ""}
    refused = subprocess.run(Service.API.argv(), env=env, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "ALLOWED_HOSTS must name the hosts" in refused.stderr
    local.settings = public
    local.start_api()
    assert requests.get(f"{local.url}/readyz", timeout=10).status_code == 200
    assert local.client_with(ACME).me()["tenant"] == "acme"


def test_every_route_declares_its_access_and_an_undeclared_one_is_refused(settings: StackSettings) -> None:
    from flask import Flask

    from imgqueue_api import create_app
    from imgqueue_api.auth import declared

    token_mode = settings.with_overrides(auth_mode="token", api_tokens=f"ops:admin:{OPS}")
    app: Flask = create_app({"TESTING": True, "IMGQUEUE_SETTINGS": token_mode})
    undeclared = [rule.rule for rule in app.url_map.iter_rules() if declared(app.view_functions[rule.endpoint]) is None]
    assert undeclared == [], f"routes without an access declaration: {undeclared}"
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret")  # a route someone forgot to declare
    with app.test_client() as client:
        resp = client.get("/forgotten", headers={"Authorization": f"Bearer {OPS}"})
        assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden", "default deny, even for admins"
        public = client.get("/healthz")
        assert public.status_code == 200


def test_a_public_route_sees_an_anonymous_caller(settings: StackSettings) -> None:
    from imgqueue_api import auth, create_app

    app = create_app({"TESTING": True, "IMGQUEUE_SETTINGS": settings})  # open mode: every caller is admin...
    with app.test_request_context("/healthz"):
        app.preprocess_request()
        assert auth.current() is auth.ANONYMOUS  # ...but one that never passed an access check is nobody


def test_revoking_a_token_ends_what_it_signed_and_its_open_streams(secured: LocalStack) -> None:
    created = admin(secured.settings, "tokens", "create", "--tenant", "ops2", "--role", "admin")
    token = created.stdout.strip().splitlines()[-1]
    ops = secured.client_with(token)
    job_id = done_job(ops)
    link = ops.job(job_id)["resultUrl"]
    assert requests.get(f"{secured.url}{link}", timeout=10).status_code == 200
    ticket = ops._json("POST", "/events/ticket")["ticket"]
    with requests.get(f"{secured.url}/events", headers={"Authorization": f"Bearer {token}"}, stream=True,
                      timeout=30) as stream:
        assert stream.status_code == 200
        token_id = next(line.split()[0] for line in admin(secured.settings, "tokens", "list").stdout.splitlines()
                        if "ops2" in line)
        assert admin(secured.settings, "tokens", "revoke", token_id).returncode == 0
        t0 = time.monotonic()
        events = [line for line in stream.iter_lines(decode_unicode=True) if line.startswith("event:")]
        assert events[-1] == "event: revoked", "an admin's open stream ends once its token is revoked"
        assert time.monotonic() - t0 < 10
    gone = requests.get(f"{secured.url}{link}", timeout=10)
    assert gone.status_code == 403 and gone.json()["error"]["code"] == "link_revoked"
    assert requests.get(f"{secured.url}/events", params={"ticket": ticket}, timeout=10).status_code == 401


def test_a_seeded_token_can_be_revoked_too(secured: LocalStack) -> None:
    listing = admin(secured.settings, "tokens", "list").stdout
    acme_id = next(line.split()[0] for line in listing.splitlines() if line.split()[1:2] == ["acme"])
    assert "(seeded)" in listing
    assert admin(secured.settings, "tokens", "revoke", acme_id).returncode == 0
    assert status_of(secured.client_with(ACME).me) == 401
    assert status_of(secured.client_with(GLOBEX).me) == 200
