"""The store's queue protocol against a real Redis: records before pushes, checked transitions, recovery,
retries, TTLs and events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest

from helpers import claim, enqueue, finish, image_bytes, wait_for
from imgqueue import keys
from imgqueue.errors import JobNotFound
from imgqueue.job import TERMINAL, Job, JobStatus, new_job_id
from imgqueue.store import Gone, Store
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack

HEARTBEAT_TTL = 5.0  # what the worker settings say


def test_enqueue_writes_record_status_and_ttls_with_the_push(store: Store, make_job: Callable[..., Job]) -> None:
    job = enqueue(store, make_job(image_bytes()))
    r = store.redis
    assert r.get(keys.job_status(job.id)) == "queued"  # the demo's key, readable with redis-cli GET
    assert r.lrange(store.keys.queue, 0, -1) == [job.id]
    record = r.hgetall(keys.job_hash(job.id))
    assert record["status"] == "queued" and record["input_key"] == job.input_key
    for key in (keys.job_status(job.id), keys.job_hash(job.id)):
        ttl = r.ttl(key)
        assert 0 < ttl <= store.settings.job_ttl, f"{key} must expire (ttl={ttl})"
    assert store.stats()["enqueued"] == 1


def test_job_ttl_is_configurable_and_refreshed_on_transitions(settings: StackSettings,
                                                              make_job: Callable[..., Job]) -> None:
    q = Store.from_settings(settings.with_overrides(job_ttl=120))
    job = enqueue(q, make_job(image_bytes()))
    assert 0 < q.redis.ttl(keys.job_status(job.id)) <= 120
    q.redis.expire(keys.job_hash(job.id), 5)
    claimed = claim(q, "w1", timeout=1)
    assert claimed is not None and claimed.id == job.id
    assert q.redis.ttl(keys.job_hash(job.id)) > 100


def test_claim_and_finish(store: Store, make_job: Callable[..., Job]) -> None:
    job = enqueue(store, make_job(image_bytes()))
    claimed = claim(store, "w1", timeout=1)
    assert claimed is not None and claimed.status is JobStatus.PROCESSING
    assert claimed.attempts == 1 and claimed.worker == "w1"
    assert store.redis.lrange(store.keys.processing("w1"), 0, -1) == [job.id]
    done = finish(store, "w1", job.id, JobStatus.DONE, {"output_width": 120})
    assert done.applied and done.next_job is None
    assert store.jobs.status(job.id) is JobStatus.DONE
    assert store.redis.llen(store.keys.processing("w1")) == 0


def test_finish_can_take_the_next_job_in_the_same_round_trip(store: Store, make_job: Callable[..., Job]) -> None:
    first, second = enqueue(store, make_job(image_bytes())), enqueue(store, make_job(image_bytes()))
    claimed = claim(store, "w1", timeout=1)
    assert claimed is not None and claimed.id == first.id  # FIFO, as the demo's LPUSH + BRPOP
    finished = finish(store, "w1", first.id, JobStatus.DONE, {}, claim_next=True)
    assert finished.next_job is not None and finished.next_job.id == second.id
    assert store.jobs.status(second.id) is JobStatus.PROCESSING


def test_a_late_transition_never_overwrites_done(store: Store, make_job: Callable[..., Job]) -> None:
    job = enqueue(store, make_job(image_bytes()))
    assert claim(store, "w1", timeout=1) is not None
    finish(store, "w1", job.id, JobStatus.DONE, {})
    # A stale copy of the id in the queue is dropped, not restarted.
    store.redis.lpush(store.keys.queue, job.id)
    assert claim(store, "w2", timeout=1) is None
    assert store.redis.llen(store.keys.processing("w2")) == 0
    # A stale failure or retry from a worker that no longer owns it is refused.
    assert not finish(store, "w1", job.id, JobStatus.FAILED, {"error": "late"}).applied
    assert not finish(store, "w3", job.id, JobStatus.RETRYING, {}, retry_at=0).applied
    # Recovery of a dead worker that still lists the job does not requeue it.
    store.redis.lpush(store.keys.processing("dead"), job.id)
    store.redis.sadd(store.keys.workers, "dead")
    found = store.recovery.run()
    assert "dead" in found.dead_workers and found.requeued == []
    assert store.jobs.status(job.id) is JobStatus.DONE
    assert store.jobs.depth() == 0


def test_dead_worker_jobs_go_back_to_the_head_of_the_queue(store: Store, make_job: Callable[..., Job]) -> None:
    a, b = enqueue(store, make_job(image_bytes())), enqueue(store, make_job(image_bytes()))
    store.workers.register("doomed", {"host": "h", "pid": 1}, HEARTBEAT_TTL)
    assert claim(store, "doomed", timeout=1).id == a.id  # type: ignore[union-attr]
    assert store.recovery.run().requeued == []  # heartbeat still fresh
    store.redis.delete(store.keys.heartbeat("doomed"))  # as if its TTL ran out
    found = store.recovery.run()
    assert found.requeued == [a.id] and found.dead_workers == ["doomed"]
    assert claim(store, "w2", timeout=1).id == a.id  # type: ignore[union-attr]  # ahead of b
    job = store.jobs.get(a.id)
    assert job.vanished == 1 and job.lost == 0 and job.attempts == 2, "a whole worker gone: not the job's fault"
    assert store.redis.sismember(store.keys.workers, "doomed") == 0
    assert store.jobs.get(b.id).status is JobStatus.QUEUED


def test_poison_job_fails_after_max_losses(settings: StackSettings, make_job: Callable[..., Job]) -> None:
    """Its worker process died running it, its supervisor alive, three times: the job is to blame."""
    q = Store.from_settings(settings, settings.policy)
    job = enqueue(q, make_job(image_bytes()))
    for attempt in range(3):
        wid = f"w{attempt}"
        q.workers.register(wid, {}, HEARTBEAT_TTL)
        assert claim(q, wid, timeout=1) is not None
        q.recovery.release(wid, Gone.CRASHED)
    final = q.jobs.get(job.id)
    assert final.status is JobStatus.FAILED and final.error_code == "worker_lost"
    assert "3 times" in final.error and final.lost == 3
    assert q.jobs.depth() == 0


def test_a_vanishing_worker_counts_toward_a_much_higher_cap(settings: StackSettings,
                                                            make_job: Callable[..., Job]) -> None:
    """Whole workers killed from outside (chaos, a scale-in, a host lost) are not the job's fault: three of
    them do not fail it; it fails only once MAX_VANISHED of them went."""
    q = Store.from_settings(settings, settings.with_overrides(max_vanished=5).policy)
    job = enqueue(q, make_job(image_bytes()))
    for attempt in range(5):
        wid = f"v{attempt}"
        q.workers.register(wid, {}, HEARTBEAT_TTL)
        assert claim(q, wid, timeout=1) is not None
        q.redis.delete(q.keys.heartbeat(wid))
        q.recovery.run()
        if attempt == 2:
            assert q.jobs.status(job.id) is JobStatus.QUEUED, "three vanishings: still queued"
    final = q.jobs.get(job.id)
    assert final.status is JobStatus.FAILED and final.vanished == 5 and final.lost == 0
    assert "vanished 5 times" in final.error


def test_graceful_release_does_not_count_as_a_loss(store: Store, make_job: Callable[..., Job]) -> None:
    job = enqueue(store, make_job(image_bytes()))
    store.workers.register("w1", {}, HEARTBEAT_TTL)
    assert claim(store, "w1", timeout=1) is not None
    found = store.recovery.release("w1", Gone.RELEASED)
    assert found.requeued == [job.id]
    assert store.jobs.get(job.id).lost == 0 and store.jobs.status(job.id) is JobStatus.QUEUED


def test_lost_reply_is_resumed_not_stranded(store: Store, make_job: Callable[..., Job]) -> None:
    """If BLMOVE moved a job but the start reply never arrived, the next claim resumes it."""
    job = enqueue(store, make_job(image_bytes()))
    store.redis.lmove(store.keys.queue, store.keys.processing("w1"), "RIGHT", "LEFT")
    resumed = claim(store, "w1", timeout=0.1)
    assert resumed is not None and resumed.id == job.id
    again = claim(store, "w1", timeout=0.1)  # started already, by us: handed back again, not dropped
    assert again is not None and again.id == job.id and again.attempts == 1


def test_retry_goes_to_delayed_set_then_back_to_the_queue(store: Store, make_job: Callable[..., Job]) -> None:
    job = enqueue(store, make_job(image_bytes()))
    assert claim(store, "w1", timeout=1) is not None
    assert finish(store, "w1", job.id, JobStatus.RETRYING, {"error": "disk"}, retry_at=0.0).applied
    rec = store.jobs.get(job.id)
    assert rec.status is JobStatus.RETRYING and rec.retries == 1
    assert store.recovery.run().promoted == 1
    assert store.jobs.status(job.id) is JobStatus.QUEUED and store.jobs.depth() == 1


def test_retry_delay_is_exponential_with_jitter_and_capped(settings: StackSettings) -> None:
    s = settings.with_overrides(retry_backoff_base=1.0, retry_backoff_max=10.0)
    for n, base in [(0, 1), (1, 2), (2, 4), (3, 8), (6, 10)]:
        delays = {s.retry_delay(n) for _ in range(20)}
        assert all(0.5 * base <= d < 1.5 * base for d in delays)
        assert len(delays) > 1


def test_every_transition_is_published(store: Store, make_job: Callable[..., Job]) -> None:
    pubsub = store.redis.pubsub()
    pubsub.subscribe(store.keys.events)
    wait_for(lambda: pubsub.get_message(timeout=0.1), 5, "subscription")
    job = enqueue(store, make_job(image_bytes()))
    claim(store, "w1", timeout=1)
    finish(store, "w1", job.id, JobStatus.DONE, {"duration_ms": 5})
    seen = []
    while len(seen) < 3:
        msg = wait_for(lambda: pubsub.get_message(timeout=0.1), 5, "event")
        seen.append(json.loads(msg["data"]))  # type: ignore[index]
    pubsub.close()
    assert [e["status"] for e in seen] == ["queued", "processing", "done"]
    assert all(e["id"] == job.id for e in seen) and seen[1]["worker"] == "w1"


def test_listing_by_status(store: Store, make_job: Callable[..., Job]) -> None:
    jobs = [enqueue(store, make_job(image_bytes())) for _ in range(5)]
    claim(store, "w1", timeout=1)
    finish(store, "w1", jobs[0].id, JobStatus.FAILED, {"error": "x"})
    assert [j.id for j in store.jobs.newest(limit=10)] == [j.id for j in reversed(jobs)]
    assert [j.id for j in store.jobs.newest(JobStatus.FAILED)] == [jobs[0].id]
    assert len(store.jobs.newest(JobStatus.QUEUED, limit=2)) == 2


def test_status_race_hundreds_of_fast_failing_jobs(settings: StackSettings, store: Store, local: LocalStack,
                                                   make_job: Callable[..., Job]) -> None:
    """The demo pushed first and wrote 'queued' second: fast failures ended stuck in 'queued'."""
    local.start_workers(concurrency=2)
    local.start_workers(concurrency=1)
    ids: list[str] = []
    lock = threading.Lock()

    def producer(n: int) -> None:
        q = Store.from_settings(settings)
        for i in range(n):
            kind = i % 3
            data = b"not an image" if kind == 0 else (b"" if kind == 1 else image_bytes(10, 10)[:30])
            job = enqueue(q, make_job(data))
            with lock:
                ids.append(job.id)

    threads = [threading.Thread(target=producer, args=(50,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ids) == 300

    def all_terminal() -> bool:
        return all(j.status in TERMINAL for j in store.jobs.get_many(ids))

    wait_for(all_terminal, 90, "all 300 jobs to finish", interval=0.2)
    jobs = store.jobs.get_many(ids)
    assert len(jobs) == 300
    assert {j.status for j in jobs} == {JobStatus.FAILED}
    assert {j.error_code for j in jobs} <= {"not_an_image", "corrupt_image"}
    assert all(j.error for j in jobs)
    assert [store.redis.get(keys.job_status(i)) for i in ids].count("failed") == 300
    assert store.jobs.depth() == 0
    assert "Traceback" not in local.worker_logs()


@pytest.mark.parametrize("count", [1, 250])
def test_bulk_enqueue_is_one_transaction(store: Store, make_job: Callable[..., Job], count: int) -> None:
    jobs = [make_job(b"x") for _ in range(count)]
    store.jobs.enqueue(jobs)
    assert store.jobs.depth() == count
    assert all(j.status is JobStatus.QUEUED for j in store.jobs.get_many(j.id for j in jobs))


def test_the_bytes_of_an_enqueue_are_counted_for_what_it_made(store: Store, make_job: Callable[..., Job]) -> None:
    """Accepted bytes count the jobs made (a duplicate done at once included); stored bytes only the uploads
    kept. A duplicate whose original is gone is not made (nor counted): the API queues it again as new."""
    kept = make_job(b"x" * 100)
    kept.input_bytes = 100
    orphan = make_job()
    orphan.input_bytes, orphan.duplicate_of, orphan.input_key = 40, new_job_id(), ""
    made = store.jobs.enqueue([kept, orphan])
    assert [j.id for j in made] == [kept.id]
    with pytest.raises(JobNotFound):
        store.jobs.get(orphan.id)
    stats = store.stats()
    assert stats["upload_bytes"] == 100 and stats["stored_upload_bytes"] == 100


def test_a_worker_that_found_the_queue_empty_waits_for_a_wake_up_before_looking(store: Store,
                                                                                make_job: Callable[..., Job]) -> None:
    for worker in ("w1", "w2"):
        store.workers.register(worker, {}, HEARTBEAT_TTL)
    woken = enqueue(store, make_job(image_bytes(20, 20)))
    assert [j.id for j in store.runs.claim("w1", 1.0, 1, look_first=False)] == [woken.id]  # its token: at once
    quiet = enqueue(store, make_job(image_bytes(20, 20)))
    store.redis.delete(store.keys.wake)  # no token: it waits out the timeout, then still finds the job
    t0 = time.monotonic()
    assert [j.id for j in store.runs.claim("w2", 0.5, 1, look_first=False)] == [quiet.id]
    assert time.monotonic() - t0 >= 0.4


def test_prefetch_holds_several_jobs_crash_safely(store: Store, make_job: Callable[..., Job]) -> None:
    from imgqueue.store import Outcome

    jobs = [enqueue(store, make_job(image_bytes(50, 50))) for _ in range(6)]
    store.workers.register("w1", {}, HEARTBEAT_TTL)
    held = store.runs.claim("w1", timeout=1, count=3)
    assert [j.id for j in held] == [j.id for j in jobs[:3]]  # in queue order
    assert all(j.status is JobStatus.PROCESSING for j in held)
    assert store.redis.llen(store.keys.processing("w1")) == 3
    assert store.redis.hget(store.keys.worker("w1"), "held") == "3"
    outcomes = [Outcome(held[0].id, JobStatus.DONE, {"duration_ms": 1}),
                Outcome(held[1].id, JobStatus.FAILED, {"error_code": "corrupt_image", "error": "x"}),
                Outcome(held[2].id, JobStatus.DONE, {})]
    finished = store.runs.record("w1", outcomes, take=2)
    assert finished.applied == [True, True, True]
    assert [j.id for j in finished.next_jobs] == [j.id for j in jobs[3:5]]
    assert [store.jobs.status(j.id) for j in jobs[:3]] == [JobStatus.DONE, JobStatus.FAILED, JobStatus.DONE]
    assert store.stats()["failed:corrupt_image"] == 1
    # The worker dies holding two jobs: both go back, ahead of the one still queued.
    store.redis.delete(store.keys.heartbeat("w1"))
    found = store.recovery.run()
    assert sorted(found.requeued) == sorted(j.id for j in jobs[3:5])
    assert claim(store, "w2", timeout=1).id in {jobs[3].id, jobs[4].id}  # type: ignore[union-attr]
