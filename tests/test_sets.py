"""Sets of outputs through real processes (issue 18): the API (gunicorn), worker processes, a real Redis.
A set's record and links (each output, a srcset), presets and presets-only mode, the budget refusals, a
failing variant failing the job with nothing visible, a worker killed -9 in the middle of a set, and an
identical set sharing its outputs."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from helpers import image_bytes, local_path, wait_for, wait_status
from imgqueue.job import Job, JobStatus, Rendition, input_key, new_job_id, output_key
from imgqueue.spec import Fit, ResizeSpec
from imgqueue.store import Store
from imgqueue_client import ApiError
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack, start_redis

SRCSET = [{"name": "w160", "width": 160}, {"name": "w320", "width": 320}, {"name": "sq", "width": 96, "height": 96,
                                                                         "fit": "cover", "format": "jpeg"}]


def _size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def test_a_set_is_one_job_with_a_link_per_output_and_a_srcset(stack: LocalStack, tmp_path: Path) -> None:
    client = stack.client
    job = client.submit(image_bytes(800, 600), fit="inside", format="webp", variants=SRCSET,
                        placeholder="blurhash", filename="beach.jpg")
    record = client.wait(job["jobId"], timeout=60)
    assert record["status"] == "done", record
    assert [(v["name"], v["width"], v["height"], v["format"]) for v in record["variants"]] == \
        [("w160", 160, 120, "webp"), ("w320", 320, 240, "webp"), ("sq", 96, 96, "jpeg")]
    by_name = {v["name"]: v for v in record["variants"]}
    assert record["srcset"] == f"{by_name['w160']['url']} 160w, {by_name['w320']['url']} 320w"
    assert record["placeholder_kind"] == "blurhash" and len(record["placeholder"]) > 10
    for variant in record["variants"]:
        resp = requests.get(stack.url + variant["url"], timeout=10)  # signed: no token needed
        assert resp.status_code == 200 and _size(resp.content) == (variant["width"], variant["height"])
        assert resp.headers["Content-Type"] == f"image/{variant['format']}"
    saved = client.download_set(job["jobId"], tmp_path)
    assert sorted(saved) == ["sq", "w160", "w320"] and all(p.stat().st_size > 0 for p in saved.values())
    assert _size(requests.get(f"{stack.url}/jobs/{job['jobId']}/result", timeout=10).content) == (160, 120), \
        "the result route serves a set's first output"
    missing = requests.get(f"{stack.url}/jobs/{job['jobId']}/result/w9999", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "variant_not_found"
    assert missing.json()["error"]["variants"] == ["w160", "w320", "sq"]


def test_an_identical_set_shares_the_outputs_of_the_first(stack: LocalStack) -> None:
    client, data = stack.client, image_bytes(500, 400)
    first = client.submit(data, format="webp", variants=SRCSET)
    assert client.wait(first["jobId"], timeout=60)["status"] == "done"
    again = client.submit(data, format="webp", variants=SRCSET)
    assert again["status"] == "done" and again["duplicateOf"] == first["jobId"]
    shared = client.job(again["jobId"])
    assert [v["width"] for v in shared["variants"]] == [160, 320, 96]
    other = client.submit(data, format="webp", variants=SRCSET[:2])
    assert other["status"] == "queued", "another set of the same bytes is another job"


def test_the_budget_is_the_whole_set(api_server: LocalStack) -> None:
    client = api_server.client
    many = [{"name": f"v{i}", "width": 10 + i} for i in range(13)]
    with pytest.raises(ApiError) as too_many:
        client.submit(image_bytes(), variants=many)
    assert too_many.value.status == 400 and "MAX_VARIANTS" in too_many.value.message
    big = [{"name": f"v{i}", "width": 4000, "height": 3000} for i in range(2)]  # 24 MP together
    with pytest.raises(ApiError) as too_big:
        client.submit(image_bytes(), variants=big)
    assert too_big.value.status == 413 and too_big.value.code == "output_too_large"
    with pytest.raises(ApiError) as both:
        client.submit(image_bytes(), variants=SRCSET, preset="card")
    assert both.value.status == 400


def test_presets_and_presets_only_mode(local: LocalStack) -> None:
    presets = {"card": [{"name": "w200", "width": 200, "format": "webp"}, {"name": "thumb", "width": 64,
                                                                            "height": 64, "crop": "attention"}]}
    local.settings = local.settings.with_overrides(presets=json.dumps(presets), presets_only=True)
    local.start_api()
    local.start_workers(1)
    client = local.client
    job = client.submit(image_bytes(640, 480), preset="card")
    record = client.wait(job["jobId"], timeout=60)
    assert [(v["name"], v["width"], v["height"]) for v in record["variants"]] == [("w200", 200, 150), ("thumb", 64, 64)]
    for asked in ({"width": 300}, {"variants": json.dumps(SRCSET)}, {}, {"preset": "nope"}):
        resp = requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes())}, data=asked, timeout=10)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_parameter", asked
    assert "card" in requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes())},
                                   timeout=10).json()["error"]["message"], "the refusal names the presets"


def _set_job(store: Store, settings: StackSettings, names: list[str], data: bytes, width: int = 100) -> Job:
    job_id = new_job_id()
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    (settings.upload_dir / f"{job_id}.jpg").write_bytes(data)
    variants = tuple(Rendition(name, ResizeSpec(width=width + 40 * i, fit=Fit.INSIDE, format="png"),
                               output_key(job_id, "png", name)) for i, name in enumerate(names))
    job = Job(id=job_id, spec=variants[0].spec, input_key=input_key(job_id, "jpg"), output_key=variants[0].key,
              variants=variants, input_format="jpeg")
    store.jobs.enqueue([job])
    return job


def test_a_variant_that_fails_fails_the_job_with_nothing_visible(settings: StackSettings, store: Store,
                                                                 local: LocalStack) -> None:
    job = _set_job(store, settings, ["small", "broken", "large"], image_bytes(640, 480))
    local_path(settings, job.variants[1].key).mkdir(parents=True)  # where "broken" must go: a folder
    local.start_workers(1, max_retries=0)
    failed = wait_status(store, job.id, {JobStatus.DONE, JobStatus.FAILED})
    assert failed.status is JobStatus.FAILED and "variant broken" in failed.error, failed.error
    assert not local_path(settings, job.variants[0].key).exists(), "the output stored before it is removed"
    assert not local_path(settings, job.variants[2].key).exists()


def test_a_worker_killed_in_the_middle_of_a_set_leaves_no_partial_set(tmp_path: Path,
                                                                      settings: StackSettings) -> None:
    """Outputs are made and stored one by one, a checkpoint before each store. Redis is paused at the
    checkpoint after the first store, so the worker blocks at a later one, some outputs of four stored; it
    is killed there. The job is not done; once Redis is back, it runs again and makes the whole set."""
    redis_proc, url = start_redis(workdir=tmp_path / "redis", log=(tmp_path / "redis.log").open("wb"))
    settings = settings.with_overrides(redis_url=url)
    store = Store.from_settings(settings)
    stack = LocalStack(settings, tmp_path / "logs")
    try:
        events = store.redis.pubsub(ignore_subscribe_messages=True)
        events.subscribe(store.keys.events)
        job = _set_job(store, settings, ["a", "b", "c", "d"], photo_bytes(2000, 1500), width=1000)
        stack.start_workers(1)
        running = wait_status(store, job.id, {JobStatus.PROCESSING})
        pid = int(store.redis.hget(store.keys.worker(running.worker), "pid"))  # type: ignore[arg-type]
        wait_for(lambda: _stored_one(events, job.id), 30, "the checkpoint after the set's first output", interval=0.001)
        redis_proc.signal(signal.SIGSTOP)
        time.sleep(1.5)  # the worker stores the output it made, makes the next, and waits on Redis
        os.kill(pid, signal.SIGKILL)
        stored = [v.name for v in job.variants if local_path(settings, v.key).exists()]
        redis_proc.signal(signal.SIGCONT)
        assert 1 <= len(stored) < 4, f"killed with a part of the set stored: {stored}"
        assert store.jobs.status(job.id) is not JobStatus.DONE, "no done behind a partial set"
        done = wait_status(store, job.id, {JobStatus.DONE, JobStatus.FAILED}, timeout=60)
        assert done.status is JobStatus.DONE and done.attempts == 2
        for variant in done.variants:
            assert _size(local_path(settings, variant.key).read_bytes()) == (variant.width, variant.height)
        events.close()
    finally:
        stack.stop()
        store.close()
        redis_proc.stop()


def photo_bytes(width: int, height: int) -> bytes:
    """Noise, so that each PNG output takes a while to encode."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 60).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def _stored_one(events: object, job_id: str) -> bool:
    """Whether a checkpoint of the job said one output or more is stored (every event waiting is read)."""
    while message := events.get_message(timeout=0.01):  # type: ignore[attr-defined]
        event = json.loads(message["data"])
        if event.get("id") == job_id and event.get("progress", {}).get("done", 0) >= 1:
            return True
    return False
