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
from imgqueue.errors import ObjectMissing, StorageError
from imgqueue.job import JobStatus
from imgqueue.storage import open_storage, sweep
from imgqueue.storage.s3 import S3Storage
from imgqueue.store import Store
from imgqueue_dev.objectstore import ObjectStore, start_objectstore
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack

BUCKET = "imgqueue"


@pytest.fixture
def objectstore(tmp_path: Path) -> Iterator[ObjectStore]:
    server = start_objectstore(tmp_path / "s3", log=(tmp_path / "rclone.log").open("wb"))
    (server.root / BUCKET).mkdir()
    yield server
    server.stop()


@pytest.fixture
def s3_settings(settings: StackSettings, objectstore: ObjectStore) -> StackSettings:
    return settings.with_overrides(**objectstore.settings(BUCKET, "test/"))


def objects(objectstore: ObjectStore) -> list[str]:
    folder = objectstore.root / BUCKET
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


class BrokenStream(io.BytesIO):
    """An upload whose reading fails half way (a client gone, an encoder crashed)."""

    def read(self, n: int | None = -1) -> bytes:
        raise RuntimeError("the stream broke off")


def test_objects_round_trip_and_are_written_whole_or_not_at_all(s3_settings: StackSettings,
                                                                 objectstore: ObjectStore) -> None:
    storage = open_storage(s3_settings)
    assert isinstance(storage, S3Storage)
    storage.prepare()
    assert storage.put("uploads/a1.jpg", io.BytesIO(b"upload bytes")) == 12
    assert storage.location("uploads/a1.jpg") == f"s3://{BUCKET}/test/uploads/a1.jpg"
    assert storage.get("uploads/a1.jpg") == b"upload bytes"
    with pytest.raises(RuntimeError):
        storage.put("output/a1.png", BrokenStream(b"half an encoding"))
    assert objects(objectstore) == ["test/uploads/a1.jpg"], "nothing of a failed write is visible"
    storage.put("output/a1.png", b"the output")
    reader = storage.open("output/a1.png")
    assert reader.size == 10 and reader.read() == b"the output"
    reader.close()
    storage.delete("uploads/a1.jpg")
    with pytest.raises(ObjectMissing):
        storage.get("uploads/a1.jpg")
    assert storage.stat("uploads/a1.jpg") is None
    with pytest.raises(ValueError):
        storage.put("../../etc/passwd", b"x")
    swept = sweep(storage, {"output/": 10**6, "uploads/": 10**6})
    assert (swept.kept_bytes["output/"], swept.total_removed) == (10, 0)
    assert sweep(storage, {"output/": -1, "uploads/": -1}).removed["output/"] == 1 and objects(objectstore) == []


def test_a_staged_upload_is_put_whole_on_commit_and_nothing_otherwise(s3_settings: StackSettings,
                                                                      objectstore: ObjectStore) -> None:
    storage = open_storage(s3_settings)
    storage.prepare()
    kept, dropped = storage.stage("uploads"), storage.stage("uploads")
    for staged in (kept, dropped):
        staged.write(b"x" * 700_000)  # past what stays in memory
    assert objects(objectstore) == []
    assert kept.commit("uploads/s1.jpg") == 700_000
    for staged in (kept, dropped):
        staged.close()
    assert objects(objectstore) == ["test/uploads/s1.jpg"] and storage.get("uploads/s1.jpg") == b"x" * 700_000


def test_wrong_credentials_and_a_store_that_is_down_are_storage_errors(s3_settings: StackSettings,
                                                                      objectstore: ObjectStore) -> None:
    forged = open_storage(s3_settings.with_overrides(aws_secret_access_key="not-the-secret"))
    with pytest.raises(StorageError, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKey|HTTP 403"):
        forged.put("uploads/a1.jpg", io.BytesIO(b"x"))
    objectstore.stop()
    with pytest.raises(StorageError, match="unavailable"):
        open_storage(s3_settings).get("uploads/a1.jpg")


def test_the_pipeline_through_the_object_store_with_no_shared_folder(local: LocalStack, s3_settings: StackSettings,
                                                                     objectstore: ObjectStore) -> None:
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
    assert [o for o in objects(objectstore) if o.startswith("test/uploads/")] == [], "uploads removed when done"
    assert len([o for o in objects(objectstore) if o.startswith("test/output/")]) == 10
    assert not s3_settings.upload_dir.exists() and not s3_settings.output_dir.exists(), "no local folder used"


def test_results_redirect_to_presigned_links_when_the_store_is_public(local: LocalStack, s3_settings: StackSettings,
                                                                      objectstore: ObjectStore) -> None:
    local.settings = s3_settings.with_overrides(s3_public_endpoint=objectstore.endpoint)
    local.start_api()
    local.start_workers(1)
    job = local.client.submit(image_bytes(), 50, 50)
    local.client.wait(str(job["jobId"]), timeout=30)
    resp = requests.get(f"{local.url}/jobs/{job['jobId']}/result", allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and resp.headers["Location"].startswith(objectstore.endpoint)
    assert "X-Amz-Signature=" in resp.headers["Location"]
    fetched = requests.get(resp.headers["Location"], timeout=10)
    assert fetched.status_code == 200 and Image.open(io.BytesIO(fetched.content)).size == (50, 50)


def test_a_store_outage_is_503_at_upload_and_retried_by_workers(local: LocalStack, s3_settings: StackSettings,
                                                               objectstore: ObjectStore, store: Store) -> None:
    local.settings = s3_settings.with_overrides(retry_backoff_base=0.5, retry_backoff_max=1.0, max_retries=10)
    local.start_api()
    accepted = local.client.submit(image_bytes(), 80, 80)["jobId"]
    port = int(objectstore.endpoint.rsplit(":", 1)[1])
    objectstore.stop()
    refused = requests.post(f"{local.url}/upload", files={"image": ("a.jpg", image_bytes())}, timeout=30)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "storage_error"
    local.start_workers(1)
    wait_for(lambda: store.jobs.get(accepted).retries >= 1, 30, "the worker to retry while the store is down")
    restarted = start_objectstore(objectstore.root, port, objectstore.access_key, objectstore.secret_key)
    try:
        done = wait_status(store, accepted, {JobStatus.DONE, JobStatus.FAILED}, timeout=60)
        assert done.status is JobStatus.DONE and done.retries >= 1, done.error
    finally:
        restarted.stop()
