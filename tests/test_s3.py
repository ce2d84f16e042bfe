"""Object storage against a real S3 server (rclone serve s3, which checks every signature): the backend's
guarantees, the store failing and coming back, and the whole pipeline with no shared folder."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from helpers import image_bytes, wait_for, wait_status
from imgqueue.config import Settings
from imgqueue.errors import InputMissing, StorageError
from imgqueue.job import JobStatus
from imgqueue.queue import Queue
from imgqueue.storage import open_storage
from imgqueue.storage.s3 import S3Storage
from imgqueue_dev.objectstore import ObjectStore, start_objectstore
from imgqueue_dev.stack import LocalStack

BUCKET = "imgqueue"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    server = start_objectstore(tmp_path / "s3", log=(tmp_path / "rclone.log").open("wb"))
    (server.root / BUCKET).mkdir()
    yield server
    server.stop()


@pytest.fixture
def s3_settings(settings: Settings, store: ObjectStore) -> Settings:
    return settings.with_overrides(**store.settings(BUCKET, "test/"))


def objects(store: ObjectStore) -> list[str]:
    return sorted(str(p.relative_to(store.root / BUCKET)) for p in (store.root / BUCKET).rglob("*") if p.is_file())


def test_objects_round_trip_and_are_written_whole_or_not_at_all(s3_settings: Settings, store: ObjectStore) -> None:
    storage = open_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    storage.prepare()
    location, size = storage.save_upload("a1", "jpg", io.BytesIO(b"upload bytes"))
    assert location == f"s3://{BUCKET}/test/uploads/a1.jpg" and size == 12
    assert storage.read(location) == b"upload bytes"
    out = storage.output_location("a1", "png")
    with pytest.raises(RuntimeError), storage.writer(out) as fh:
        fh.write(b"half an encoding")
        raise RuntimeError("the encoder failed")
    assert objects(store) == ["test/uploads/a1.jpg"], "nothing of a failed write is visible"
    with storage.writer(out) as fh:
        fh.write(b"the output")
    result = storage.result(out)
    assert result.size == 10 and b"".join(result.chunks or []) == b"the output"
    storage.remove(location)
    with pytest.raises(InputMissing):
        storage.read(location)
    with pytest.raises(ValueError):
        storage.output_location("../../etc/passwd", "jpg")
    swept = storage.sweep(output_ttl=10**6, upload_ttl=10**6, temp_ttl=0)
    assert (swept.output_bytes, swept.removed) == (10, 0)
    assert storage.sweep(output_ttl=-1, upload_ttl=-1, temp_ttl=0).outputs == 1 and objects(store) == []


def test_wrong_credentials_and_a_store_that_is_down_are_storage_errors(s3_settings: Settings,
                                                                      store: ObjectStore) -> None:
    forged = open_storage(s3_settings.with_overrides(aws_secret_access_key="not-the-secret"))
    with pytest.raises(StorageError, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKey|HTTP 403"):
        forged.save_upload("a1", "jpg", io.BytesIO(b"x"))
    store.stop()
    with pytest.raises(StorageError, match="unavailable"):
        open_storage(s3_settings).read(f"s3://{BUCKET}/test/uploads/a1.jpg")


def test_the_pipeline_through_the_object_store_with_no_shared_folder(local: LocalStack, s3_settings: Settings,
                                                                     store: ObjectStore, queue: Queue) -> None:
    local.settings = s3_settings
    local.start_api()
    local.start_workers(2)
    client = local.client
    ids = [str(client.submit(image_bytes(400 + i, 300), 120, 90)["jobId"]) for i in range(10)]
    records = client.wait_all(ids, timeout=60)
    assert {r["status"] for r in records} == {"done"}
    for record in records:
        assert record["output_path"].startswith(f"s3://{BUCKET}/test/output/")
        resp = requests.get(f"{local.url}/jobs/{record['id']}/result", timeout=10)
        assert resp.status_code == 200 and Image.open(io.BytesIO(resp.content)).size == (120, 90)
    assert [o for o in objects(store) if o.startswith("test/uploads/")] == [], "uploads removed when done"
    assert len([o for o in objects(store) if o.startswith("test/output/")]) == 10
    assert not s3_settings.upload_dir.exists() and not s3_settings.output_dir.exists(), "no local folder used"


def test_results_redirect_to_presigned_links_when_the_store_is_public(local: LocalStack, s3_settings: Settings,
                                                                      store: ObjectStore) -> None:
    local.settings = s3_settings.with_overrides(s3_public_endpoint=store.endpoint)
    local.start_api()
    local.start_workers(1)
    job = local.client.submit(image_bytes(), 50, 50)
    local.client.wait(str(job["jobId"]), timeout=30)
    resp = requests.get(f"{local.url}/jobs/{job['jobId']}/result", allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and resp.headers["Location"].startswith(store.endpoint)
    assert "X-Amz-Signature=" in resp.headers["Location"]
    fetched = requests.get(resp.headers["Location"], timeout=10)
    assert fetched.status_code == 200 and Image.open(io.BytesIO(fetched.content)).size == (50, 50)


def test_a_store_outage_is_503_at_upload_and_retried_by_workers(local: LocalStack, s3_settings: Settings,
                                                               store: ObjectStore, queue: Queue) -> None:
    local.settings = s3_settings.with_overrides(retry_backoff_base=0.5, retry_backoff_max=1.0, max_retries=10)
    local.start_api()
    accepted = local.client.submit(image_bytes(), 80, 80)["jobId"]
    port = int(store.endpoint.rsplit(":", 1)[1])
    store.stop()
    refused = requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes())}, timeout=30)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "storage_error"
    local.start_workers(1)
    wait_for(lambda: queue.get(accepted).retries >= 1, 30, "the worker to retry while the store is down")
    restarted = start_objectstore(store.root, port, store.access_key, store.secret_key)
    try:
        done = wait_status(queue, accepted, {JobStatus.DONE, JobStatus.FAILED}, timeout=60)
        assert done.status is JobStatus.DONE and done.retries >= 1, done.error
    finally:
        restarted.stop()
