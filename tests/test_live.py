"""Live status against real gunicorn: server-sent events and Prometheus metrics."""

from __future__ import annotations

import json
import select
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import image_bytes, wait_for
from imgqueue.store import Store
from imgqueue_dev.stack import LocalStack


def read_events(resp: requests.Response, limit: int = 50) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse an SSE stream into (event, data) pairs."""
    event, data = "message", ""
    for line in resp.iter_lines(decode_unicode=True):
        if line == "":
            if data:
                yield event, json.loads(data)
                limit -= 1
                if limit == 0:
                    return
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


def upload(url: str, data: bytes | None = None) -> str:
    resp = requests.post(f"{url}/upload", files={"image": ("a.jpg", data or image_bytes())}, timeout=30)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["jobId"])


def test_late_subscriber_gets_the_current_state_and_the_stream_closes(
        api_server: LocalStack, local: LocalStack) -> None:
    url = api_server.url
    job_id = upload(url)
    local.start_workers()
    wait_for(lambda: requests.get(f"{url}/jobs/{job_id}/status", timeout=5).json()["status"] == "done", 30, "done")
    with requests.get(f"{url}/jobs/{job_id}/events", stream=True, timeout=10) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = list(read_events(resp))  # ends by itself: the job is already done
    assert len(events) == 1
    name, data = events[0]
    assert name == "job" and data["id"] == job_id and data["status"] == "done" and data["output_width"] == 300


def test_job_stream_follows_every_transition_then_closes(api_server: LocalStack, local: LocalStack) -> None:
    url = api_server.url
    job_id = upload(url)
    with requests.get(f"{url}/jobs/{job_id}/events", stream=True, timeout=30) as resp:
        stream = read_events(resp)
        first = next(stream)
        assert first[1]["status"] == "queued"
        local.start_workers()
        rest = list(stream)
    assert [d["status"] for _, d in rest if "progress" not in d] == ["processing", "done"]
    assert not [d for _, d in rest if "progress" in d], "a single output reports no progress (only ever 0 of 1)"
    assert rest[0][1]["worker"] and rest[-1][1]["id"] == job_id


def test_unknown_job_stream_is_404_json(api_server: LocalStack) -> None:
    resp = requests.get(f"{api_server.url}/jobs/{'0' * 32}/events", timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "job_not_found"


def test_all_events_filtered_by_ids_and_batch(api_server: LocalStack, local: LocalStack) -> None:
    url = api_server.url
    files = [("images", (f"{i}.jpg", image_bytes(200 + i, 100))) for i in range(3)]
    batch = requests.post(f"{url}/jobs", files=files, timeout=30).json()
    other = upload(url)
    ids = {j["jobId"] for j in batch["jobs"]}
    with requests.get(f"{url}/events", params={"batch": batch["batch"], "summary": "0"}, stream=True,
                      timeout=30) as resp:
        stream = read_events(resp, limit=6)
        local.start_workers()
        seen = list(stream)
    assert {d["id"] for _, d in seen} == ids and other not in {d["id"] for _, d in seen}
    assert sorted(d["status"] for _, d in seen) == ["done"] * 3 + ["processing"] * 3
    wait_for(lambda: requests.get(f"{url}/jobs/{other}/status", timeout=5).json()["status"] == "done", 30, "done")
    with requests.get(f"{url}/events", params={"ids": other}, stream=True, timeout=10) as resp:
        name, summary = next(read_events(resp))
    assert name == "summary" and summary["counts"]["done"] == 4 and len(summary["workers"]) == 1


def open_stream(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    return sock


def timed_upload(url: str, session: requests.Session) -> float:
    t0 = time.perf_counter()
    resp = session.post(f"{url}/upload", files={"image": ("a.jpg", image_bytes(800, 600))}, timeout=30)
    assert resp.status_code == 202
    return time.perf_counter() - t0


@pytest.mark.timeout(180)
def test_200_open_streams_do_not_starve_uploads(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_streams_per_client=500)  # one client holds all 200 here
    local.start_api()
    url = local.url
    host, port = url.removeprefix("http://").split(":")
    session = requests.Session()
    for _ in range(3):
        timed_upload(url, session)  # warm up both gunicorn workers
    baseline = [timed_upload(url, session) for _ in range(20)]
    streams = [open_stream(host, int(port)) for _ in range(200)]
    try:
        def all_started() -> bool:  # every stream got its headers and first summary
            ready, _, _ = select.select(streams, [], [], 1)
            return all(b"event: summary" in s.recv(65536, socket.MSG_PEEK) for s in streams) if ready else False

        wait_for(all_started, 60, "200 streams to start", interval=0.5)
        loaded = [timed_upload(url, session) for _ in range(20)]
        time.sleep(0.5)
        got_job_event = sum(1 for s in streams if b"event: job" in s.recv(1 << 20, socket.MSG_PEEK))
    finally:
        for s in streams:
            s.close()
    assert got_job_event == 200, f"only {got_job_event} of 200 streams saw the uploads' events"
    base_median, loaded_median = statistics.median(baseline), statistics.median(loaded)
    print(f"upload median: {base_median * 1000:.1f} ms alone, {loaded_median * 1000:.1f} ms with 200 streams open")
    assert loaded_median <= 3 * base_median + 0.1, (base_median, loaded_median)


def scrape(url: str) -> dict[str, float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def depth(values: dict[str, float]) -> float:
    """The queue depth, all priorities together (as ``sum(imgqueue_queue_depth)``)."""
    return sum(v for k, v in values.items() if k.startswith("imgqueue_queue_depth{"))


def test_metrics_scrape_and_move(api_server: LocalStack, local: LocalStack, tmp_path: Path) -> None:
    url = api_server.url
    before = scrape(url)
    assert before["imgqueue_jobs_enqueued_total"] == 0 and depth(before) == 0
    good = [upload(url) for _ in range(3)]
    bad_path = tmp_path / "bad.png"
    bad_path.write_bytes(image_bytes(100, 100, "PNG"))
    bad = upload(url, bad_path.read_bytes())
    # Corrupt the stored upload behind the API's back: the worker must fail it (a reason to count).
    stored = next(p for p in Path(api_server.settings.upload_dir).iterdir() if p.name.startswith(bad))
    stored.write_bytes(stored.read_bytes()[:50])
    middle = scrape(url)
    assert middle["imgqueue_jobs_enqueued_total"] == 4 and depth(middle) == 4
    assert middle["imgqueue_queue_depth{priority=normal}"] == 4
    assert middle["imgqueue_upload_bytes_total"] > 0
    local.start_workers()
    wait_for(lambda: scrape(url)["imgqueue_jobs_completed_total"] == 3, 30, "3 completed")
    after = wait_for(lambda: (m := scrape(url)).get("imgqueue_jobs_failed_total{reason=corrupt_image}") == 1 and m,
                     30, "a failure by reason")
    assert isinstance(after, dict)
    assert depth(after) == 0 and after["imgqueue_workers_alive"] == 1
    assert after["imgqueue_job_processing_seconds_count"] == 3
    assert after["imgqueue_job_queue_wait_seconds_count"] == 3
    assert after["imgqueue_job_processing_seconds_bucket{le=+Inf}"] == 3
    latency = [k for k in after if k.startswith("imgqueue_api_request_duration_seconds_count")]
    assert any("route=/upload" in k and "status=202" in k for k in latency), latency
    assert all(len(requests.get(f"{url}/jobs/{j}/result", timeout=5).content) > 0 for j in good)


def test_the_api_keeps_the_charts_samples_while_no_worker_runs(local: LocalStack, store: Store) -> None:
    """Two API processes and no worker: the samples still come, one per interval for the whole fleet (the
    API processes take turns), and the dashboard's history reads them."""
    local.settings = local.settings.with_overrides(history_interval=0.5)
    local.start_api()
    upload(local.url)  # a job queued: the depth the charts show
    wait_for(lambda: len(local.client.history(window=60)) >= 2, 20, "points from samples the API took")
    started = time.time()
    time.sleep(3)
    taken = [s for s in store.history.since(started) if s["t"] <= started + 3]
    assert 4 <= len(taken) <= 7, f"one sample per interval for the fleet, not one per process: {len(taken)}"
    assert taken[-1]["depth"]["normal"] == 1
