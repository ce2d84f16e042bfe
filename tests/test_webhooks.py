"""Webhooks and batches against real gunicorn, Redis, worker supervisors with their dispatchers, and HTTP
receivers on loopback: every delivery verified with the Standard Webhooks reference library
(``standardwebhooks``), a rotated secret's grace period, backoff and dead messages, redelivery, SSRF
refusals (a listener that must see nothing), batches, and kill -9 of dispatchers and workers."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
import requests
from receiver import Receiver, receiving
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from helpers import image_bytes, wait_for
from imgqueue import outbound
from imgqueue.store import Store
from imgqueue.webhooks import new_secret
from imgqueue_client import Client, WebhookError, verify_webhook
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack

SECRET = new_secret()
OPEN = {"webhook_secret": SECRET, "webhook_allow_http": True, "webhook_allow_private": True,
        "webhook_retry_base": 0.2, "webhook_dispatchers": 1}


def opened(local: LocalStack, workers: int = 1, **overrides: object) -> Client:
    local.settings = local.settings.with_overrides(**{**OPEN, **overrides})
    local.start_api()
    for _ in range(workers):
        local.start_workers(1)
    return local.client


def verified(receiver: Receiver, secret: str = SECRET) -> list[dict[str, object]]:
    """Every delivery so far, each verified by the reference library (and by our client's helper)."""
    out = []
    for d in list(receiver.got):
        payload = Webhook(secret).verify(d.body, d.headers)
        assert verify_webhook(secret, d.headers, d.body) == payload
        out.append({"id": d.headers["webhook-id"], **payload})
    return out


def failing_upload(client: Client, settings: StackSettings, **options: object) -> str:
    """A job that will fail at the worker: its upload removed while it waits for its time."""
    job_id = str(client.submit(image_bytes(80, 60), 40, 30, delay=1.5, **options)["jobId"])  # type: ignore[arg-type]
    for path in settings.upload_dir.glob(f"{job_id}.*"):
        path.unlink()
    return job_id


def test_each_ended_job_is_told_once_signed_as_the_reference_library_verifies(local: LocalStack) -> None:
    client = opened(local, max_retries=0)
    with receiving() as receiver:
        done = client.submit(image_bytes(300, 200), 60, 40, callback_url=receiver.url)["jobId"]
        failed = failing_upload(client, local.settings, callback_url=receiver.url)
        cancelled = client.submit(image_bytes(90, 60), 40, 30, delay=60, callback_url=receiver.url)["jobId"]
        client.cancel(cancelled)
        quiet = client.submit(image_bytes(120, 60), 40, 30)["jobId"]  # no callbackUrl: nothing sent
        client.wait_all([done, failed, quiet], timeout=30)
        wait_for(lambda: len(receiver.got) >= 3, 20, "three webhooks")
        time.sleep(0.5)
        got = {p["data"]["id"]: p for p in verified(receiver)}  # type: ignore[index]
    assert {k: v["type"] for k, v in got.items()} == {done: "job.completed", failed: "job.failed",
                                                      cancelled: "job.cancelled"}
    record = got[done]["data"]
    assert record["status"] == "done" and record["output_width"] == 60  # type: ignore[index]
    assert record["resultUrl"] == f"/jobs/{done}/result" and "input_path" not in record  # type: ignore[index,operator]
    assert got[failed]["data"]["error"]  # type: ignore[index]
    shown = client.deliveries(done)
    assert [d["state"] for d in shown] == ["delivered"] and shown[0]["attempts"][0]["status"] == 200
    assert client.job(done)["webhook"] == "delivered"
    with pytest.raises(WebhookError):
        verify_webhook(new_secret(), receiver.got[0].headers, receiver.got[0].body)


def test_a_receiver_down_then_failing_gets_it_with_backoff_and_a_dead_one_can_be_redelivered(
        local: LocalStack) -> None:
    client = opened(local, webhook_max_age=10.0)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hook"
    job = client.submit(image_bytes(100, 80), 50, 40, callback_url=url)["jobId"]
    wait_for(lambda: len(_attempts(client, job)) >= 2, 20, "two attempts while nobody listens")
    with receiving(Receiver(answers=[500, 500]), port=port) as receiver:
        wait_for(lambda: client.deliveries(job)[0]["state"] == "delivered", 30, "the delivery after the 500s")
        statuses = [a["status"] for a in _attempts(client, job)]
        assert statuses[-3:] == [500, 500, 200] and None in statuses, statuses
        times = [a["at"] for a in _attempts(client, job)]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps[-1] > gaps[0] * 1.2 or gaps[-1] > 0.5, f"the waits grow: {gaps}"
        assert len({d.headers["webhook-id"] for d in receiver.got}) == 1 and len(receiver.got) == 3
        assert len({d.body for d in receiver.got}) == 1, "every attempt carries the same body"

    dead_url = f"http://127.0.0.1:{_free_port()}/never"
    lonely = client.submit(image_bytes(100, 80), 50, 40, callback_url=dead_url)["jobId"]
    wait_for(lambda: (client.deliveries(lonely) or [{}])[0].get("state") == "dead", 40, "the message to die")
    assert client.job(lonely)["webhook"] == "dead"
    message = client.deliveries(lonely)[0]
    port2 = int(dead_url.rsplit(":", 1)[1].split("/")[0])
    with receiving(port=port2) as late:
        assert client.redeliver(message["id"])["state"] == "pending"
        wait_for(lambda: client.deliveries(lonely)[0]["state"] == "delivered", 20, "the redelivery")
        assert late.got[0].headers["webhook-id"] == message["id"]


PRIVATE_HOSTS = ("127.0.0.1", "[::1]", "localhost", "10.1.2.3", "192.168.0.1", "169.254.169.254", "[::ffff:127.0.0.1]",
                 "[fe80::1]", "[fd00:ec2::254]", "0.0.0.0", "2130706433", "0x7f.1", "[64:ff9b::7f00:1]", "224.0.0.1",
                 "100.64.0.1", "[::127.0.0.1]", "[2002:7f00:1::1]")


def test_callbacks_to_private_addresses_are_refused_without_a_connection(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(webhook_secret=SECRET, webhook_allow_http=True)
    local.start_api()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.3)
        port = listener.getsockname()[1]
        for host in PRIVATE_HOSTS:
            resp = requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes(80, 60))},
                                 data={"callbackUrl": f"http://{host}:{port}/hook"}, timeout=20)
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_callback_url", (host, resp.text)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_callback_urls_are_https_only_by_default_and_refused_by_form(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(webhook_secret=SECRET)
    local.start_api()
    for url in ("http://example.com/hook", "ftp://example.com/", "https://user:pw@example.com/", "https:///x",
                "https://example.com:99999/", "https://example.com:0/", "https://exa mple.com/", "javascript:alert(1)",
                "https://[::1", "https://[::1/x"):
        resp = requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes(80, 60))},
                             data={"callbackUrl": url}, timeout=20)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_callback_url", (url, resp.text)


def test_delivery_checks_the_address_again_and_follows_no_redirect(local: LocalStack) -> None:
    policy = outbound.Policy(allow_http=True)
    with pytest.raises(outbound.Refused):
        outbound.post("http://localhost:9/x", b"{}", {}, policy)  # resolved at the delivery too: no connection
    client = opened(local)
    with receiving() as target, receiving(Receiver(answers=[302, 302, 302], location="")) as bouncer:
        bouncer.location = target.url
        job = client.submit(image_bytes(100, 80), 50, 40, callback_url=bouncer.url)["jobId"]
        wait_for(lambda: len(_attempts(client, job)) >= 1, 20, "an attempt")
        first = _attempts(client, job)[0]
        assert first["status"] == 302 and "redirect" in first["error"]
        assert target.got == [], "the redirect was not followed"


def test_an_answer_trickled_a_byte_at_a_time_is_cut_off_at_the_attempts_deadline() -> None:
    """Each byte comes well within the read timeout, the whole answer never does: the attempt ends at
    WEBHOOK_TIMEOUT all the same, so a receiver cannot hold a dispatcher's thread."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 1000:
                if stop.wait(0.2):
                    return
                conn.sendall(bytes([byte]))

    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    policy = outbound.Policy(allow_http=True, allow_private=True, timeout=1.5)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match=r"within 1\.5 s"):
            outbound.post(f"http://127.0.0.1:{server.getsockname()[1]}/hook", b"{}", {}, policy)
        assert time.monotonic() - started < 5, "cut off at the deadline, not after the whole trickle"
    finally:
        stop.set()
        feeder.join(5)
        server.close()


def test_open_mode_without_a_secret_refuses_callbacks(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(webhook_allow_http=True, webhook_allow_private=True)
    local.start_api()
    with receiving() as receiver:  # a URL that passes every check: only the missing secret refuses it
        resp = requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes(80, 60))},
                             data={"callbackUrl": receiver.url}, timeout=20)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "webhooks_not_configured", resp.text


def test_metadata_addresses_are_refused_even_where_private_ones_are_allowed() -> None:
    policy = outbound.Policy(allow_http=True, allow_private=True)
    assert outbound.resolve("http://127.0.0.1:9/x", policy).address == "127.0.0.1"
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
                "http://[::ffff:169.254.169.254]/", "http://100.100.100.200/"):
        with pytest.raises(outbound.Refused, match="metadata"):
            outbound.resolve(url, policy)


def test_a_tenant_endpoint_signs_and_a_rotated_secret_works_during_its_grace_only(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(auth_mode="token", api_tokens="acme:client:acme-token-0123456789ab",
                                                   webhook_allow_http=True, webhook_allow_private=True,
                                                   webhook_dispatchers=1)
    with receiving() as receiver:
        made = _admin(local.settings, "webhooks", "create", "--tenant", "acme", "--url", receiver.url)
        assert made.returncode == 0, made.stderr
        first = made.stdout.strip().splitlines()[-1]
        local.start_api()
        local.start_workers(1)
        acme = local.client_with("acme-token-0123456789ab")
        job = acme.submit(image_bytes(100, 80), 50, 40)["jobId"]  # no callbackUrl: the tenant's endpoint
        wait_for(lambda: len(receiver.got) >= 1, 20, "the first webhook")
        assert verified(receiver, first)[0]["data"]["id"] == job  # type: ignore[index]
        rotated = _admin(local.settings, "webhooks", "rotate", "--tenant", "acme", "--grace", "3")
        second = rotated.stdout.strip().splitlines()[-1]
        acme.submit(image_bytes(110, 80), 50, 40)
        wait_for(lambda: len(receiver.got) >= 2, 20, "the second webhook")
        during = receiver.got[1]
        Webhook(first).verify(during.body, during.headers)  # the old secret still verifies
        Webhook(second).verify(during.body, during.headers)
        time.sleep(3.2)
        acme.submit(image_bytes(120, 80), 50, 40)
        wait_for(lambda: len(receiver.got) >= 3, 20, "the third webhook")
        after = receiver.got[2]
        Webhook(second).verify(after.body, after.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(first).verify(after.body, after.headers)
        shown = _admin(local.settings, "webhooks", "show", "--tenant", "acme").stdout
        assert second in shown


def test_a_batch_of_50_with_failures_completes_once_with_its_counts(local: LocalStack) -> None:
    client = opened(local, max_retries=0)
    with receiving() as receiver:
        batch = client.create_batch(50, callback_url=receiver.url)
        bid = batch["batchId"]
        assert batch["expected"] == 50 and batch["completedAt"] is None
        ids = [client.submit(image_bytes(60 + i, 40), 30, 20, batch=bid)["jobId"] for i in range(47)]
        ids += [failing_upload(client, local.settings, batch=bid) for _ in range(3)]
        with pytest.raises(Exception, match="batch_full"):
            client.submit(image_bytes(60, 40), 30, 20, batch=bid)
        client.wait_all(ids, timeout=60)
        wait_for(lambda: any(json.loads(d.body)["type"] == "batch.completed" for d in receiver.got), 20,
                 "batch.completed")
        time.sleep(1.0)
        completed = [p for p in verified(receiver) if p["type"] == "batch.completed"]
    assert len(completed) == 1
    data = completed[0]["data"]
    assert data["counts"] == {"cancelled": 0, "done": 47, "failed": 3} and data["ended"] == 50  # type: ignore[index]
    shown = client.batch(bid)
    assert shown["completedAt"] is not None
    assert data == {k: v for k, v in shown.items() if k not in ("batchUrl", "deliveries")}, \
        "the webhook carries the batch as the API shows it"
    other = requests.get(f"{local.url}/batches/{'0' * 32}", timeout=10)
    assert other.status_code == 404 and other.json()["error"]["code"] == "batch_not_found"


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_every_job_is_told_at_least_once_while_dispatchers_and_workers_are_killed(local: LocalStack) -> None:
    client = opened(local, workers=2, webhook_timeout=2.0)
    jobs = 300
    with receiving() as receiver:
        ids: list[str] = []
        for start in range(0, jobs, 50):
            ids += [client.submit(image_bytes(40 + i % 30, 30), 20, 15, callback_url=receiver.url)["jobId"]
                    for i in range(start, start + 50)]
            victim = local.workers[start // 50 % len(local.workers)]
            wait_for(lambda: _kill_children(victim.pid, "iq-dispatcher"), 30,  # noqa: B023 (called at once)
                     "a dispatcher to kill, mid-delivery (its supervisor replaces it)")
            if start // 50 % 2:
                victim.signal(signal.SIGKILL)  # a whole supervisor: its workers and its dispatcher
                victim.stop(timeout=5)
                local.workers.remove(victim)
                local.start_workers(1)
        client.wait_all(ids, timeout=240)
        wait_for(lambda: set(ids) <= {json.loads(d.body)["data"]["id"] for d in list(receiver.got)}, 240,
                 "a webhook for every job")
        by_id: dict[str, set[bytes]] = defaultdict(set)
        for payload, d in zip(verified(receiver), receiver.got, strict=True):
            by_id[str(payload["id"])].add(d.body)
    assert all(len(bodies) == 1 for bodies in by_id.values()), "a repeat carries its first body and id"
    print(f"{jobs} jobs, {len(receiver.got)} deliveries ({len(receiver.got) - len(by_id)} repeats)")


def _attempts(client: Client, job_id: str) -> list[dict[str, object]]:
    shown = client.deliveries(job_id)
    return list(shown[0]["attempts"]) if shown else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_children(pid: int, name: str) -> int:
    """SIGKILL the children of ``pid`` whose name (``comm``) is ``name``; how many."""
    killed = 0
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            comm = Path(f"/proc/{child}/comm").read_text().strip()
        except OSError:
            continue
        if comm == name:
            os.kill(int(child), signal.SIGKILL)
            killed += 1
    return killed


def _admin(settings: StackSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "imgqueue_api.admin", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_tester_receives_and_verifies_every_jobs_webhook(local: LocalStack) -> None:
    opened(local)
    run = subprocess.run([sys.executable, "-m", "imgqueue_tester", "--api", local.url, "--generate", "4",
                          "--timeout", "90", "--callback", "--webhook-secret", SECRET],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "webhooks: 4 of 4 jobs told" in run.stdout and "0 refused" in run.stdout
    assert run.stderr.count("job.completed") >= 4 and "verified" in run.stderr


def test_a_slow_receiver_holds_back_neither_jobs_nor_another_tenants_webhooks(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(
        auth_mode="token", api_tokens="acme:client:acme-token-0123456789ab,globex:client:globex-token-0123456789",
        webhook_allow_http=True, webhook_allow_private=True, webhook_dispatchers=1, webhook_concurrency=4,
        webhook_tenant_concurrency=2, webhook_timeout=20.0)
    with receiving(Receiver(delay=4.0)) as slow, receiving() as quick:
        for tenant, receiver in (("acme", slow), ("globex", quick)):
            made = _admin(local.settings, "webhooks", "create", "--tenant", tenant, "--url", receiver.url)
            assert made.returncode == 0, made.stderr
        local.start_api()
        local.start_workers(1)
        acme, globex = local.client_with("acme-token-0123456789ab"), local.client_with("globex-token-0123456789")
        slow_jobs = [acme.submit(image_bytes(60 + i, 40), 30, 20)["jobId"] for i in range(6)]
        acme.wait_all(slow_jobs, timeout=30)  # jobs are not held by their webhooks
        started = time.monotonic()
        theirs = globex.submit(image_bytes(90, 60), 30, 20)["jobId"]
        wait_for(lambda: len(quick.got) >= 1, 15, "the other tenant's webhook")
        took = time.monotonic() - started
        assert json.loads(quick.got[0].body)["data"]["id"] == theirs
        assert took < 4.0, f"{took:.1f} s: the other tenant waited for the slow receiver"
        wait_for(lambda: len(slow.got) >= 2, 15, "the slow receiver's first answers")
        assert slow.most_in_flight == 2, "one tenant holds WEBHOOK_TENANT_CONCURRENCY deliveries at once, no more"


def test_a_batch_gives_its_last_places_to_exactly_the_uploads_that_fit(store: Store) -> None:
    store.batches.create("b1", "", 3, "", time.time(), 60)
    racing = [threading.Thread(target=lambda: taken.append(store.batches.reserve("b1", 2))) for _ in range(8)]
    taken: list[bool] = []
    for t in racing:
        t.start()
    for t in racing:
        t.join(10)
    assert taken.count(True) == 1, "two places each: only one of eight fits in three"
    assert store.batches.reserve("b1", 1) and not store.batches.reserve("b1", 1)
    assert store.batches.get("b1")["jobs"] == 3  # type: ignore[index]
    assert not store.batches.reserve("gone", 1) and store.batches.get("gone") is None, "no batch made again"
