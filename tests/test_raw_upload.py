"""PUT /upload: the image as the whole body, its options in the query string, through real gunicorn and a
worker: the same answers and the same refusals as the multipart upload, and the client and tester use it."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from helpers import image_bytes
from imgqueue_dev.stack import LocalStack


def put(local: LocalStack, data: bytes, content_type: str = "image/jpeg", **params: str) -> requests.Response:
    return requests.put(f"{local.url}/upload", data=data, params=params, headers={"Content-Type": content_type},
                        timeout=30)


def test_an_image_as_the_body_is_queued_and_made_as_a_form_upload_would_be(local: LocalStack) -> None:
    local.start_api()
    local.start_workers(1)
    answer = put(local, image_bytes(400, 300), width="120", height="90", fit="cover", format="webp",
                 filename="beach.jpg")
    assert answer.status_code == 202, answer.text
    record = local.client.wait(answer.json()["jobId"], timeout=30)
    assert (record["status"], record["output_width"], record["output_height"], record["output_format"]) == \
        ("done", 120, 90, "webp") and record["filename"] == "beach.jpg"
    result = requests.get(f"{local.url}{answer.json()['resultUrl']}", timeout=10)
    assert result.status_code == 200 and result.content[8:12] == b"WEBP"
    variants = json.dumps([{"name": "s", "width": 40}, {"name": "m", "width": 80}])
    made = local.client.wait(put(local, image_bytes(300, 200), variants=variants, fit="inside").json()["jobId"],
                             timeout=30)
    assert [v["width"] for v in made["variants"]] == [40, 80]
    via_client = local.client.submit(image_bytes(200, 100), 50, raw=True, filename="c.png")
    assert local.client.wait(via_client["jobId"], timeout=30)["output_width"] == 50


def test_a_raw_body_is_refused_as_a_form_would_be(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_upload_bytes=50_000)
    local.start_api()
    cases = {
        "text": (put(local, b"hello", "text/plain"), 400, "invalid_body"),
        "not an image": (put(local, b"\x00" * 200), 415, "not_an_image"),
        "empty": (put(local, b""), 400, "empty_file"),
        "too large": (put(local, b"\xff\xd8" + b"\x00" * 60_000), 413, "file_too_large"),
        "bad width": (put(local, image_bytes(40, 30), width="wide"), 400, "invalid_parameter"),
    }
    for name, (resp, status, code) in cases.items():
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), (name, resp.text)


def test_the_tester_can_upload_raw_bodies(local: LocalStack) -> None:
    local.start_api()
    local.start_workers(1)
    run = subprocess.run([sys.executable, "-m", "imgqueue_tester", "--api", local.url, "--generate", "3", "--raw",
                          "--timeout", "90"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "3 done" in run.stdout, run.stdout + run.stderr
