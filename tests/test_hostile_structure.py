"""Files whose structure claims more than their first frame shows, and files made of metadata: refused at
upload, from their bytes, before any pixel is decoded (and before Pillow parses them), with the same 4xx
JSON as a frame 0 over the limit; and the worker refuses them too, should one reach it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

import craft
from helpers import enqueue, image_bytes, wait_status
from imgqueue.errors import CorruptImage, TooMuchMetadata
from imgqueue.job import Job, JobStatus
from imgqueue.layout import Budget, walk
from imgqueue.store import Store
from imgqueue_dev.stack import LocalStack

HOSTILE = {
    "a GIF's later frame outgrows its 16x16 screen": (craft.gif((16, 16), [(16, 16), (9000, 9000)]), 413,
                                                       "too_many_pixels"),
    "199 GIF frames of 6000x6000 on a small screen": (craft.gif((16, 16), [(6000, 6000)] * 199), 413,
                                                      "too_many_pixels"),
    "TIFF pages of 7000x7000 behind a 16x16 first page": (craft.tiff([(16, 16)] + [(7000, 7000)] * 20), 413,
                                                          "too_many_pixels"),
    "an APNG frame past its canvas": (craft.apng((16, 16), [(16, 16), (9000, 9000)]), 413, "too_many_pixels"),
    "an animated WebP frame past its canvas": (craft.webp((16, 16), [(16, 16), (9000, 9000)]), 413,
                                               "too_many_pixels"),
    "an MPO whose second image is huge": (craft.mpo_with_a_huge_second_image((9000, 9000)), 413, "too_many_pixels"),
    "a TIFF of 201 pages": (craft.tiff([(16, 16)] * 201), 422, "too_many_frames"),
    "a PNG of 1.2 million empty tEXt chunks": (craft.text_chunks(1_200_000), 422, "too_much_metadata"),
    "a JPEG of 100,000 comment segments": (craft.jpeg_with_comments(100_000), 422, "too_much_metadata"),
}


def test_hostile_structures_are_refused_at_upload(api_server: LocalStack, store: Store) -> None:
    for name, (data, status, code) in HOSTILE.items():
        resp = requests.post(f"{api_server.url}/upload", files={"image": ("x.img", data)}, timeout=60)
        assert resp.status_code == status, (name, resp.text)
        assert resp.json()["error"]["code"] == code, name
    assert store.jobs.depth() == 0 and list(api_server.settings.upload_dir.iterdir()) == []


def test_legitimate_frames_and_pages_within_the_budget_are_accepted(api_server: LocalStack) -> None:
    for data in (craft.tiff([(16, 16)] * 3), image_bytes(64, 48, "GIF")):
        resp = requests.post(f"{api_server.url}/upload", files={"image": ("x.img", data)}, timeout=60)
        assert resp.status_code == 202, resp.text


def test_a_hostile_file_that_reaches_a_worker_fails_there_too(store: Store, local: LocalStack,
                                                              make_job: Callable[..., Job]) -> None:
    """Written straight to the queue (as an older API, or another client of Redis, could): the worker
    walks the same structure and fails the job with the same reason, without decoding it."""
    local.start_workers()
    jobs = [enqueue(store, make_job(HOSTILE[name][0], ext="img")) for name in list(HOSTILE)[:3]]
    for job in jobs:
        failed = wait_status(store, job.id, {JobStatus.FAILED, JobStatus.DONE}, timeout=30)
        assert failed.status is JobStatus.FAILED and failed.error_code == "too_many_pixels", failed.error


def test_the_walk_stops_at_the_limit_rather_than_reading_on() -> None:
    """Past 1000 metadata chunks the walk stops: the file's remainder, corrupt here, is never read (a
    walk that read on would call it corrupt instead)."""
    budget = Budget(max_frames=200, max_pixels=50_000_000, max_segments=1000, max_metadata_bytes=1 << 22)
    broken_tail = b"\x00\x00\x00\x1afcTL" + b"cut short"  # a frame header with no room for its fields
    with pytest.raises(TooMuchMetadata):
        walk(craft.text_chunks(1001, tail=broken_tail), budget)
    with pytest.raises(CorruptImage):
        walk(craft.text_chunks(999, tail=broken_tail), budget)
    with pytest.raises(TooMuchMetadata, match="bytes of metadata"):
        walk(craft.png((16, 16), [(b"iTXt", b"x" * 2000)] * 3), Budget(200, 50_000_000, 1000, 4000))
