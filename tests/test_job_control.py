"""Job control against a real Redis and real worker processes: cancel in every state (a processing job's
worker killed -9 right after), retry, priorities and their weighted turns, delayed jobs (across a Redis
restart too), tenants in turn and a tenant's concurrency cap, idempotency keys, identical uploads sharing
one output (and the sweep keeping it while a job wants it), retention."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from helpers import claim, enqueue, finish, image_bytes, local_path, wait_for, wait_status
from imgqueue.job import Job, JobStatus, Rendition, output_key
from imgqueue.spec import ResizeSpec
from imgqueue.status import Priority
from imgqueue.store import Store
from imgqueue_client import ApiError, Client
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack, start_redis
from imgqueue_dev.waiting import Deadline

HEARTBEAT_TTL = 5.0


def fifo(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    os.mkfifo(path)
    return path


def feed(path: Path, data: bytes) -> None:
    def write() -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    threading.Thread(target=write, daemon=True).start()


def started_order(store: Store, jobs: list[Job]) -> list[str]:
    records = store.jobs.get_many(j.id for j in jobs)
    return [r.id for r in sorted(records, key=lambda r: r.started_at)]


# --- the store alone ------------------------------------------------------------------------------


def test_priorities_take_weighted_turns_and_low_never_starves(store: Store, make_job: Callable[..., Job]) -> None:
    def queued(priority: Priority, n: int) -> list[Job]:
        return [enqueue(store, _with(make_job(image_bytes(20, 20)), priority=priority.value)) for _ in range(n)]

    low, normal, high = queued(Priority.LOW, 3), queued(Priority.NORMAL, 3), queued(Priority.HIGH, 3)
    taken = [claim(store, f"w{i}", timeout=0) for i in range(9)]
    assert [j.id for j in taken if j] == [j.id for j in [*high, *normal, *low]], "FIFO within a priority"
    steady_high = queued(Priority.HIGH, 30)
    one_low = queued(Priority.LOW, 1)
    order = [claim(store, f"x{i}", timeout=0) for i in range(12)]
    assert one_low[0].id in [j.id for j in order if j], "a low job runs within ten turns of steady high ones"
    assert steady_high


def test_tenants_take_turns_and_a_cap_holds_a_tenant_back(settings: StackSettings,
                                                          make_job: Callable[..., Job]) -> None:
    store = Store.from_settings(settings, settings.with_overrides(tenant_concurrency=2).policy)
    import_a = [enqueue(store, _with(make_job(image_bytes(20, 20)), tenant="a")) for _ in range(10)]
    avatars_b = [enqueue(store, _with(make_job(image_bytes(20, 20)), tenant="b")) for _ in range(3)]
    first = [claim(store, f"w{i}", timeout=0) for i in range(4)]
    assert [j.tenant for j in first if j] == ["a", "b", "a", "b"], "tenants in turn, whatever came first"
    assert claim(store, "w4", timeout=0) is None, "both tenants at their cap of 2"
    finish(store, "w1", first[1].id, JobStatus.DONE, {})  # type: ignore[union-attr]
    assert claim(store, "w5", timeout=0).tenant == "b", "a is still at its cap: b goes on"  # type: ignore[union-attr]
    finish(store, "w0", first[0].id, JobStatus.DONE, {})  # type: ignore[union-attr]
    assert claim(store, "w6", timeout=0).tenant == "a"  # type: ignore[union-attr]
    assert len(import_a) == 10 and len(avatars_b) == 3


def test_a_tenant_that_used_the_workers_least_goes_first(store: Store, make_job: Callable[..., Job]) -> None:
    import_a = [enqueue(store, _with(make_job(image_bytes(20, 20)), tenant="a")) for _ in range(20)]
    busy = [claim(store, f"w{i}", timeout=0) for i in range(5)]
    avatars_b = [enqueue(store, _with(make_job(image_bytes(20, 20)), tenant="b")) for _ in range(3)]
    after = [claim(store, f"x{i}", timeout=0) for i in range(4)]
    assert [j.tenant for j in busy + after if j] == ["a"] * 5 + ["b", "b", "b", "a"], \
        "b's small batch before a's import: a has used the workers, b not"
    assert import_a and avatars_b


def test_fair_share_weights_are_scaled_back_down_as_time_passes(settings: StackSettings,
                                                               make_job: Callable[..., Job]) -> None:
    store = Store.from_settings(settings, settings.with_overrides(fair_share_half_life=0.05).policy)
    import_a = [enqueue(store, _with(make_job(image_bytes(20, 20)), tenant="a")) for _ in range(10)]
    busy = [claim(store, f"w{i}", timeout=0) for i in range(3)]
    time.sleep(2.5)  # 50 half-lives: weights of 2^50, scaled back down at the next take
    avatars_b = [enqueue(store, _with(make_job(image_bytes(20, 20)), tenant="b")) for _ in range(2)]
    again = [claim(store, f"y{i}", timeout=0) for i in range(2)]
    assert [j.tenant for j in again if j] == ["b", "a"], "b never used the workers; then a, whose use has faded"
    scores = store.redis.zrange(store.keys.ring(Priority.NORMAL.value), 0, -1, withscores=True)
    assert scores and max(score for _, score in scores) < 10, "the weights were scaled back down"
    assert import_a and busy and avatars_b


def test_cancel_in_each_state_and_never_done_after(store: Store, make_job: Callable[..., Job]) -> None:
    delayed = enqueue(store, _with(make_job(image_bytes()), run_at=time.time() + 60))
    queued = enqueue(store, make_job(image_bytes()))
    processing = enqueue(store, make_job(image_bytes()))
    retrying = enqueue(store, make_job(image_bytes()))
    assert store.jobs.status(delayed.id) is JobStatus.DELAYED
    assert [j.id for j in store.runs.claim("w1", 0, 2)] == [queued.id, processing.id]
    finish(store, "w1", queued.id, JobStatus.RETRYING, {}, retry_at=time.time() + 60)  # now retrying
    queued_now = enqueue(store, make_job(image_bytes()))
    for job in (delayed, queued, processing, queued_now):
        assert store.jobs.cancel(job.id).changed
        assert store.jobs.status(job.id) is JobStatus.CANCELLED
    assert retrying.id != queued_now.id
    late = store.runs.record("w1", [_done(processing.id)])
    assert late.applied[0].name == "CANCELLED", "its output is discarded: never done once cancelled"
    assert store.jobs.status(processing.id) is JobStatus.CANCELLED
    taken = [j.id for j in store.runs.claim("w2", 0, 10)]
    assert taken == [retrying.id], "cancelled jobs never start; the one left queued does"
    assert not store.jobs.cancel(processing.id).changed, "cancelling an ended job changes nothing"
    assert store.stats()["cancelled"] == 4


def test_retry_queues_a_failed_or_cancelled_job_again(store: Store, make_job: Callable[..., Job]) -> None:
    job = enqueue(store, make_job(image_bytes()))
    claim(store, "w1", timeout=0)
    finish(store, "w1", job.id, JobStatus.FAILED, {"error_code": "corrupt_image", "error": "x"})
    assert store.jobs.retry(job.id).changed
    record = store.jobs.get(job.id)
    assert record.status is JobStatus.QUEUED and not record.error and record.resubmitted == 1
    assert not store.jobs.retry(job.id).changed, "a queued job is not retried"
    assert claim(store, "w1", timeout=0).attempts == 2  # type: ignore[union-attr]


def test_delayed_jobs_wait_and_do_not_count_toward_scaling(store: Store, make_job: Callable[..., Job]) -> None:
    soon = enqueue(store, _with(make_job(image_bytes()), run_at=time.time() + 1.0))
    assert claim(store, "w1", timeout=0) is None
    assert store.stats()["delayed"] == 1 and store.jobs.depth() == 0
    assert store.jobs.due_later(time.time()) == (0, 1), "not due: no worker needed for it yet"
    job = wait_for(lambda: claim(store, "w1", timeout=0.2), 5, "the delayed job to be due and taken")
    assert job.id == soon.id  # type: ignore[attr-defined]


def test_retention_keeps_the_newest_ended_jobs(settings: StackSettings, make_job: Callable[..., Job]) -> None:
    store = Store.from_settings(settings, settings.with_overrides(keep_done_jobs=2).policy)
    jobs = [enqueue(store, make_job(image_bytes(20, 20))) for _ in range(4)]
    for job in jobs:
        claim(store, "w1", timeout=0)
        finish(store, "w1", job.id, JobStatus.DONE, {})
    kept = store.jobs.get_many(j.id for j in jobs)
    assert [j.id for j in kept] == [j.id for j in jobs[2:]]


def _with(job: Job, **fields: object) -> Job:
    for name, value in fields.items():
        setattr(job, name, value)
    return job


def _done(job_id: str) -> object:
    from imgqueue.store import Outcome

    return Outcome(job_id, JobStatus.DONE, {})


# --- real processes ---------------------------------------------------------------------------------


def test_cancel_stops_a_processing_job_and_survives_its_worker_killed(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job]) -> None:
    local.start_workers(concurrency=1, heartbeat_ttl=60.0, heartbeat_interval=1.0)
    slow = enqueue(store, make_job(input_path=fifo(settings.upload_dir, "slow.jpg")))
    running = wait_status(store, slow.id, {JobStatus.PROCESSING})
    assert store.jobs.cancel(slow.id).changed
    feed(local_path(settings, slow.input_key), image_bytes())
    wait_for(lambda: store.redis.llen(store.keys.processing(running.worker)) == 0, 20, "the worker to be done with it")
    assert store.jobs.status(slow.id) is JobStatus.CANCELLED
    assert not local_path(settings, slow.output_key).exists(), "what it made is discarded"
    killed = enqueue(store, make_job(input_path=fifo(settings.upload_dir, "killed.jpg")))
    victim = wait_status(store, killed.id, {JobStatus.PROCESSING})
    assert store.jobs.cancel(killed.id).changed
    os.kill(int(store.redis.hget(store.keys.worker(victim.worker), "pid")), signal.SIGKILL)  # type: ignore[arg-type]
    after = enqueue(store, make_job(image_bytes()))
    assert wait_status(store, after.id, {JobStatus.DONE}).status is JobStatus.DONE
    assert store.jobs.status(killed.id) is JobStatus.CANCELLED, "never requeued, never done after the cancel"


def test_cancel_retry_and_options_through_the_api(api_server: LocalStack) -> None:
    client = api_server.client
    later = client.submit(image_bytes(), 50, 50, delay=300)
    assert later["status"] == "delayed"
    cancelled = client.cancel(later["jobId"])
    assert cancelled["status"] == "cancelled"
    with pytest.raises(ApiError) as again:
        client.cancel(later["jobId"])
    assert again.value.status == 409 and again.value.body["job"]["status"] == "cancelled"
    api_server.start_workers(1)
    retried = client.retry(later["jobId"])
    assert retried["status"] == "queued"
    assert client.wait(later["jobId"], timeout=30)["status"] == "done"
    with pytest.raises(ApiError) as done_already:
        client.retry(later["jobId"])
    assert done_already.value.status == 409 and done_already.value.code == "not_retryable"
    for bad in ({"priority": "urgent"}, {"delay": "soon"}, {"runAt": "tomorrow"}, {"delay": "1", "runAt": "2030"}):
        resp = requests.post(f"{api_server.url}/upload", files={"image": ("a.jpg", image_bytes())}, data=bad,
                             timeout=10)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_parameter", bad


def test_a_retry_of_a_job_whose_upload_is_gone_is_410(api_server: LocalStack, store: Store) -> None:
    job_id = api_server.client.submit(image_bytes(), 50, 50, delay=300)["jobId"]
    api_server.client.cancel(job_id)
    local_path(api_server.settings, store.jobs.get(job_id).input_key).unlink()
    with pytest.raises(ApiError) as gone:
        api_server.client.retry(job_id)
    assert gone.value.status == 410 and gone.value.code == "input_gone"


def test_idempotency_keys_make_one_job(api_server: LocalStack) -> None:
    client, data = api_server.client, image_bytes(64, 48)
    first = client.submit(data, 40, 40, idempotency_key="order-17")
    url = f"{api_server.url}/upload"
    again = requests.post(url, files={"image": ("image", data)}, data={"width": "40", "height": "40"},
                          headers={"Idempotency-Key": "order-17"}, timeout=10)
    assert again.status_code == 200 and again.json()["jobId"] == first["jobId"]
    other = requests.post(url, files={"image": ("image", data)}, data={"width": "41", "height": "40"},
                          headers={"Idempotency-Key": "order-17"}, timeout=10)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_mismatch"

    def send(_: int) -> requests.Response:
        return requests.post(url, files={"image": ("image", data)}, data={"width": "30"},
                             headers={"Idempotency-Key": "parallel-1"}, timeout=30)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert {r.json()["jobId"] for r in answers} == {answers[0].json()["jobId"]}, "parallel requests: one job"
    assert sorted(r.status_code for r in answers) == [200] * 7 + [202]


def test_identical_uploads_share_one_output_kept_while_a_job_wants_it(local: LocalStack, store: Store) -> None:
    local.settings = local.settings.with_overrides(output_ttl=6, sweep_interval=0.5)
    local.start_api()
    local.start_workers(1)
    client, data = local.client, image_bytes(300, 200)
    first = client.submit(data, 60, 40)["jobId"]
    assert client.wait(first, timeout=30)["status"] == "done"
    time.sleep(3)
    second = client.submit(data, 60, 40)
    assert second["status"] == "done" and second["duplicateOf"] == first, "done at once, nothing decoded"
    assert client.submit(data, 61, 40)["status"] == "queued", "another spec is another job"
    record = client.job(second["jobId"])
    assert record["duplicate_of"] == first and record["engine"] and record["output_width"] == 60
    original = requests.get(f"{local.url}/jobs/{first}/result", timeout=10)
    shared = requests.get(f"{local.url}/jobs/{second['jobId']}/result", timeout=10)
    assert shared.status_code == 200 and shared.content == original.content
    wait_for(lambda: requests.get(f"{local.url}/jobs/{first}/result", timeout=10).status_code == 410, 10,
             "the first job's output to expire")
    time.sleep(1.5)  # sweeps run meanwhile
    assert requests.get(f"{local.url}/jobs/{second['jobId']}/result", timeout=10).status_code == 200, \
        "the sweep keeps an output a job still wants"
    assert store.stats()["deduplicated"] == 1


def test_a_duplicates_upload_counts_as_accepted_and_is_not_counted_as_stored(stack: LocalStack,
                                                                             store: Store) -> None:
    """The bytes stored (``/stats``, ``imgqueue_stored_bytes``) between two sweeps: a duplicate's upload is
    not kept, so only the jobs that keep theirs count."""
    client, data = stack.client, image_bytes(300, 200)
    first = client.submit(data, 60, 40)["jobId"]
    assert client.wait(first, timeout=30)["status"] == "done"
    assert client.submit(data, 60, 40)["duplicateOf"] == first
    delayed = client.submit(data, 61, 40, delay=300)["jobId"]  # kept until it runs
    stats = store.stats()
    assert stats["upload_bytes"] == 3 * len(data), "every accepted upload"
    assert stats["stored_upload_bytes"] == len(data), "the delayed job's upload only"
    assert [p.stat().st_size for p in stack.settings.upload_dir.iterdir()] == [len(data)]
    client.cancel(delayed)


@pytest.mark.timeout(120)
def test_a_delayed_job_survives_a_redis_restart(tmp_path: Path, settings: StackSettings) -> None:
    folder = tmp_path / "aof"
    redis_proc, url = start_redis(workdir=folder, appendonly=True, log=(tmp_path / "r1.log").open("wb"))
    port, password = int(url.rsplit(":", 1)[1].split("/")[0]), url.split(":")[2].split("@")[0]
    stack = LocalStack(settings.with_overrides(redis_url=url), tmp_path / "logs")
    try:
        stack.start_api()
        job_id = Client(stack.url).submit(image_bytes(), 40, 40, delay=4)["jobId"]
        redis_proc.stop()  # a restart while the job waits: it lives in the AOF
        redis_proc, _ = start_redis(port, folder, True, (tmp_path / "r2.log").open("wb"), password=password)
        stack.start_workers(1)
        record = Client(stack.url).wait(job_id, timeout=60)
        assert record["status"] == "done" and record["started_at"] >= record["created_at"] + 4
    finally:
        stack.stop()
        redis_proc.stop()


def test_a_processing_set_reports_its_progress(store: Store, local: LocalStack, make_job: Callable[..., Job]) -> None:
    events = store.redis.pubsub(ignore_subscribe_messages=True)
    events.subscribe(store.keys.events)
    try:
        local.start_workers(1)
        single = make_job(image_bytes())
        variants = tuple(Rendition(name, ResizeSpec(w, None), output_key(single.id, "jpg", name))
                         for name, w in (("large", 120), ("small", 60)))
        job = enqueue(store, replace(single, variants=variants, output_key=variants[0].key))
        assert wait_status(store, job.id, {JobStatus.DONE}).status is JobStatus.DONE
        seen = []
        deadline = Deadline(10, "the set's done event")
        while not deadline.passed and not any(e.get("status") == "done" for e in seen):
            message = events.get_message(timeout=1.0)
            if message:
                seen.append(json.loads(message["data"]))
    finally:
        events.close()
    progress = [e["progress"] for e in seen if e.get("id") == job.id and "progress" in e]
    assert progress == [{"done": 0, "total": 2}, {"done": 1, "total": 2}], seen
    assert store.jobs.get(job.id).progress == '{"done":1,"total":2}'


def test_scaling_counts_the_jobs_that_need_a_worker_now(api_server: LocalStack) -> None:
    client = api_server.client
    client.submit(image_bytes(), 50, 50, delay=300)
    client.submit(image_bytes(), 50, 50, priority="low")
    client.submit(image_bytes(), 50, 50, priority="high")
    scaling = client.scaling()
    assert scaling == {"backlog": 2, "queued": 2, "processing": 0, "due": 0, "waiting": 1, "delayed": 1,
                       "workers": 0}, scaling
