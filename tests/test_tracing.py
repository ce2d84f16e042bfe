"""One trace id per job: a W3C traceparent given on upload (or one made) is kept in the job's record, given
back in the answer, carried by its events and webhooks, and found in every log line about the job in the API
and in the worker; with LOG_FORMAT=json, the lines are JSON and carry it too."""

from __future__ import annotations

import json
import threading

import requests

from helpers import image_bytes, wait_for
from imgqueue_dev.stack import LocalStack

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def upload(local: LocalStack, traceparent: str | None) -> requests.Response:
    headers = {"traceparent": traceparent} if traceparent else {}
    return requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes(120, 80))},
                         data={"width": "60"}, headers=headers, timeout=20)


def test_a_jobs_trace_id_is_in_its_record_its_events_and_every_log_line_about_it(local: LocalStack) -> None:
    local.start_api()
    local.start_workers(1)
    seen: list[dict[str, object]] = []
    listening = threading.Event()

    def follow() -> None:
        for event in local.client.iter_events(read_timeout=15):
            listening.set()
            if event.name == "job":
                seen.append(event.data)
            if any(e.get("status") == "done" for e in seen):
                return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert listening.wait(10)
    answer = upload(local, f"00-{TRACE}-00f067aa0ba902b7-01")
    job_id = answer.json()["jobId"]
    assert answer.headers["traceparent"].startswith(f"00-{TRACE}-")
    record = local.client.wait(job_id, timeout=30)
    assert record["trace_id"] == TRACE
    follower.join(15)
    mine = [e for e in seen if e.get("id") == job_id]
    assert {e["status"] for e in mine} >= {"queued", "done"} and all(e.get("trace") == TRACE for e in mine), mine
    assert local.log_dir is not None
    wait_for(lambda: f"job={job_id} status=done" in local.worker_logs(), 10, "the worker's line")
    api_lines = [ln for ln in (local.log_dir / "api.log").read_text().splitlines() if job_id in ln]
    worker_lines = [ln for ln in local.worker_logs().splitlines() if job_id in ln]
    assert api_lines and worker_lines
    assert all(f"trace={TRACE}" in ln for ln in api_lines + worker_lines), api_lines + worker_lines

    made = upload(local, "00-00000000000000000000000000000000-00f067aa0ba902b7-01")  # invalid: a new trace
    new = made.headers["traceparent"].split("-")[1]
    assert new != "0" * 32 and len(new) == 32 and local.client.job(made.json()["jobId"])["trace_id"] == new
    other = upload(local, None).headers["traceparent"].split("-")[1]
    assert other not in (new, TRACE)


def test_json_logs_are_one_object_per_line_with_the_trace(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(log_format="json")
    local.start_api()
    local.start_workers(1)
    job_id = upload(local, f"00-{TRACE}-00f067aa0ba902b7-01").json()["jobId"]
    local.client.wait(job_id, timeout=30)
    wait_for(lambda: job_id in local.worker_logs(), 10, "the worker's line")
    assert local.log_dir is not None
    lines = [json.loads(ln) for ln in local.worker_logs().splitlines() if ln.startswith("{")]
    mine = [ln for ln in lines if job_id in ln["message"]]
    assert mine and all(ln["trace"] == TRACE and ln["level"] and ln["ts"].endswith("Z") for ln in mine)
    api = [json.loads(ln) for ln in (local.log_dir / "api.log").read_text().splitlines() if ln.startswith("{")]
    assert any(job_id in ln["message"] and ln.get("trace") == TRACE for ln in api)
