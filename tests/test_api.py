"""The HTTP API through Flask's test client against a real Redis: the demo's contract and every error."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import image_bytes, run_one
from imgqueue.job import JobStatus
from imgqueue.store import Store
from imgqueue_api import create_app
from imgqueue_api.jobs import MAX_HISTORY_WINDOW
from imgqueue_dev.procs import free_port
from imgqueue_dev.settings import StackSettings
from imgqueue_worker import Worker


@pytest.fixture
def app(settings: StackSettings) -> Flask:
    return create_app({"TESTING": True, "IMGQUEUE_SETTINGS": settings.with_overrides(
        max_upload_bytes=200_000, max_request_bytes=1_000_000, max_input_pixels=4_000_000,
        max_files_per_request=5)})


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        yield c


def upload(client: FlaskClient, data: bytes, name: str = "photo.jpg", field: str = "image",
           mimetype: str = "image/jpeg", **form: str) -> Any:
    body: dict[str, Any] = {field: (io.BytesIO(data), name, mimetype), **form}
    return client.post("/upload", data=body, content_type="multipart/form-data")


def assert_error(resp: Any, status: int, code: str) -> None:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json, f"expected JSON, got {resp.content_type}"
    assert resp.json["error"]["code"] == code
    assert resp.json["error"]["message"]


def test_upload_contract_of_the_demo(client: FlaskClient, store: Store) -> None:
    resp = upload(client, image_bytes(640, 480), width="300", height="200")
    assert resp.status_code == 202
    body = resp.json
    assert body["status"] == "queued" and len(body["jobId"]) == 32
    assert body["statusUrl"] == f"/jobs/{body['jobId']}/status"
    status = client.get(body["statusUrl"])
    assert status.status_code == 200 and status.json["status"] == "queued"
    assert store.redis.get(f"job:{body['jobId']}:status") == "queued"
    record = client.get(f"/jobs/{body['jobId']}").json
    assert record["spec"]["width"] == 300 and record["spec"]["fit"] == "cover"
    assert record["input_width"] == 640 and record["filename"] == "photo.jpg"


def test_result_409_until_done_then_the_image(client: FlaskClient, settings: StackSettings) -> None:
    job_id = upload(client, image_bytes(640, 480, "PNG"), "p.png", width="100", height="50",
                    format="webp").json["jobId"]
    assert_error(client.get(f"/jobs/{job_id}/result"), 409, "not_done")
    run_one(Worker(settings))
    resp = client.get(f"/jobs/{job_id}/result")
    assert resp.status_code == 200 and resp.mimetype == "image/webp"
    from PIL import Image

    assert Image.open(io.BytesIO(resp.data)).size == (100, 50)
    assert client.get(f"/jobs/{job_id}").json["status"] == "done"


def test_defaults_and_options(client: FlaskClient) -> None:
    job_id = upload(client, image_bytes()).json["jobId"]
    spec = client.get(f"/jobs/{job_id}").json["spec"]
    assert (spec["width"], spec["height"], spec["fit"]) == (300, 300, "cover")
    job_id = upload(client, image_bytes(), width="50", fit="inside", format="jpg", quality="70",
                    progressive="true", withoutEnlargement="1").json["jobId"]
    spec = client.get(f"/jobs/{job_id}").json["spec"]
    assert spec == {**spec, "width": 50, "height": None, "fit": "inside", "format": "jpeg", "quality": 70,
                    "progressive": True, "without_enlargement": True}


def test_several_files_in_one_request(client: FlaskClient, store: Store) -> None:
    files = [(io.BytesIO(image_bytes(100 + i, 100)), f"f{i}.jpg") for i in range(3)]
    resp = client.post("/jobs", data={"images": files, "width": "40"}, content_type="multipart/form-data")
    assert resp.status_code == 202
    jobs = resp.json["jobs"]
    assert len(jobs) == 3 and resp.json["batch"]
    assert [j["filename"] for j in jobs] == ["f0.jpg", "f1.jpg", "f2.jpg"]
    assert store.jobs.depth() == 3
    listed = client.get("/jobs", query_string={"ids": ",".join(j["jobId"] for j in jobs)}).json
    assert listed["count"] == 3


def test_one_bad_file_rejects_the_whole_request(client: FlaskClient, store: Store, settings: StackSettings) -> None:
    files = [(io.BytesIO(image_bytes()), "ok.jpg"), (io.BytesIO(b"plain text"), "bad.jpg")]
    resp = client.post("/jobs", data={"images": files}, content_type="multipart/form-data")
    assert_error(resp, 415, "not_an_image")
    assert resp.json["error"]["index"] == 1 and "bad.jpg" in resp.json["error"]["message"]
    assert store.jobs.depth() == 0 and list(settings.upload_dir.iterdir()) == []


def test_listing_and_filters(client: FlaskClient) -> None:
    ids = [upload(client, image_bytes()).json["jobId"] for _ in range(3)]
    listed = client.get("/jobs?limit=2").json
    assert [j["id"] for j in listed["jobs"]] == ids[::-1][:2]
    assert client.get("/jobs?status=queued").json["count"] == 3
    assert client.get("/jobs?status=done").json["count"] == 0
    assert_error(client.get("/jobs?status=bogus"), 400, "invalid_parameter")
    assert_error(client.get("/jobs?limit=0"), 400, "invalid_parameter")
    assert_error(client.get("/jobs?limit=ten"), 400, "invalid_parameter")


def test_the_charts_window_is_whole_seconds_within_its_bounds(client: FlaskClient) -> None:
    assert client.get("/stats/history").json["window"] == 3600
    assert client.get("/stats/history?window=120").json["window"] == 120
    for bad in ("59", "\u0663\u0660\u0660", "1e3", "-60", str(MAX_HISTORY_WINDOW + 1)):
        assert_error(client.get(f"/stats/history?window={bad}"), 400, "invalid_parameter")


@pytest.mark.parametrize(("form", "code"), [
    ({"width": "abc"}, "invalid_parameter"),
    ({"height": "1.5"}, "invalid_parameter"),
    ({"width": "-3"}, "invalid_parameter"),
    ({"width": "100000"}, "invalid_parameter"),
    ({"fit": "squash"}, "invalid_parameter"),
    ({"format": "tiff"}, "invalid_parameter"),
    ({"quality": "0"}, "invalid_parameter"),
    ({"progressive": "maybe"}, "invalid_parameter"),
    ({"background": "blue-ish"}, "invalid_parameter"),
])
def test_bad_parameters_are_400(client: FlaskClient, form: dict[str, str], code: str) -> None:
    assert_error(upload(client, image_bytes(), **form), 400, code)


def test_missing_or_empty_file_is_400(client: FlaskClient) -> None:
    assert_error(client.post("/upload", data={"width": "10"}, content_type="multipart/form-data"), 400,
                 "missing_file")
    assert_error(upload(client, image_bytes(), field="picture"), 400, "missing_file")
    assert_error(upload(client, b""), 400, "empty_file")
    assert_error(client.post("/jobs", data={}, content_type="multipart/form-data"), 400, "missing_file")


def test_not_an_image_is_415_whatever_the_name_and_mimetype(client: FlaskClient) -> None:
    """The demo answered a text file with HTTP 500 and an HTML stack trace."""
    resp = upload(client, b"just some text\n" * 20, name="cat.jpg", mimetype="image/jpeg")
    assert_error(resp, 415, "not_an_image")
    assert b"Traceback" not in resp.data and b"<html" not in resp.data.lower()


def test_unsupported_image_format_is_415(client: FlaskClient) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, "PCX")
    assert_error(upload(client, buf.getvalue(), "x.pcx"), 415, "unsupported_format")


def test_corrupt_image_is_422(client: FlaskClient) -> None:
    assert_error(upload(client, image_bytes(300, 300, "PNG")[:60], "x.png"), 422, "corrupt_image")


def test_too_large_file_and_request_are_413(client: FlaskClient) -> None:
    from PIL import Image

    noisy = io.BytesIO()
    Image.effect_noise((600, 600), 100).save(noisy, "PNG")  # > 200 KB: over the per-file limit
    assert_error(upload(client, noisy.getvalue(), "n.png"), 413, "file_too_large")
    assert_error(upload(client, b"\0" * 1_100_000), 413, "request_too_large")
    files = [(io.BytesIO(image_bytes(20, 20)), f"{i}.jpg") for i in range(6)]
    assert_error(client.post("/jobs", data={"images": files}, content_type="multipart/form-data"), 413,
                 "too_many_files")


def test_too_many_pixels_is_413(client: FlaskClient) -> None:
    # 2500x2000 = 5 MP > the 4 MP limit, yet a small file: the header is checked before decoding.
    data = image_bytes(2500, 2000, "PNG", mode="L", colour=0)
    assert len(data) < 200_000
    assert_error(upload(client, data, "big.png"), 413, "too_many_pixels")


def test_unknown_job_and_routes_are_json_404(client: FlaskClient) -> None:
    assert_error(client.get("/jobs/0123456789abcdef0123456789abcdef/status"), 404, "job_not_found")
    assert_error(client.get("/jobs/not-an-id"), 404, "job_not_found")
    assert_error(client.get("/jobs/../../etc/passwd/result"), 404, "not_found")
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.delete("/upload"), 405, "method_not_allowed")


def test_client_file_names_never_become_paths(client: FlaskClient, settings: StackSettings) -> None:
    job_id = upload(client, image_bytes(), name="../../../../tmp/evil.jpg").json["jobId"]
    stored = list(settings.upload_dir.iterdir())
    assert [p.name for p in stored] == [f"{job_id}.jpg"]
    assert client.get(f"/jobs/{job_id}").json["filename"] == "evil.jpg"


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready"}
    stats = client.get("/stats").json
    assert stats["queue"] and "counts" in stats


def test_redis_down_is_503_json(settings: StackSettings, tmp_path: Path) -> None:
    down = settings.with_overrides(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with create_app({"TESTING": True, "IMGQUEUE_SETTINGS": down}).test_client() as c:
        assert c.get("/healthz").status_code == 200
        assert_error(c.get("/readyz"), 503, "redis_unavailable")
        assert_error(upload(c, image_bytes()), 503, "redis_unavailable")
        assert list(down.upload_dir.iterdir()) == [], "a refused upload must not leave its file behind"
        assert_error(c.get("/jobs/0123456789abcdef0123456789abcdef"), 503, "redis_unavailable")


def test_job_record_fields(client: FlaskClient, settings: StackSettings) -> None:
    job_id = upload(client, image_bytes(500, 400), width="100", height="100").json["jobId"]
    worker = Worker(settings)
    run_one(worker)
    record = client.get(f"/jobs/{job_id}").json
    assert record["status"] == JobStatus.DONE.value
    for name in ("created_at", "started_at", "finished_at"):
        assert record[name] > 0
    assert record["created_at"] <= record["started_at"] <= record["finished_at"]
    assert record["attempts"] == 1 and record["worker"] == worker.id
    assert (record["output_width"], record["output_height"], record["output_format"]) == (100, 100, "jpeg")
    assert record["output_bytes"] == Path(record["output_path"]).stat().st_size


def test_every_error_code_of_the_core_has_an_http_status() -> None:
    """A refusal the core can raise never reaches a client as a 500 for want of a mapping."""
    from imgqueue import errors
    from imgqueue_api.errors import HTTP_STATUS

    internal = {"error", "config_error", "transient_error", "time_limit_exceeded", "input_missing", "object_missing"}

    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    codes = {c.code for c in subclasses(errors.ImgqueueError) if c.__module__ == errors.__name__}
    assert codes - internal <= set(HTTP_STATUS), sorted(codes - internal - set(HTTP_STATUS))
