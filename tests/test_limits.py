"""Bounded work against real gunicorn, Redis and workers: amplification refused at upload, the queue's
depth, Redis and disk full, the memory ceiling, rate limits, stream caps, slow and oversized bodies, and
outputs that expire."""

from __future__ import annotations

import io
import shutil
import socket
import statistics
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from PIL import Image

from helpers import image_bytes, local_path, vips_only, wait_for, wait_status
from imgqueue.job import JobStatus
from imgqueue.store import Store
from imgqueue_dev.stack import LocalStack


def gif(frames: int, size: int = 1) -> bytes:
    images = [Image.new("P", (size, size), i % 2) for i in range(frames)]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=frames > 1, append_images=images[1:])
    return buf.getvalue()


def million_frame_gif() -> bytes:
    """1,000,000 frames of 1x1 (15 bytes each): counting them all would take seconds."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + frame * 1_000_000 + b"\x3b"


def post(url: str, data: bytes, name: str, timeout: float = 30, **form: str) -> requests.Response:
    return requests.post(f"{url}/upload", files={"image": (name, data)}, data=form, timeout=timeout)


class HealthWatch(threading.Thread):
    """Polls /healthz while a test runs; ``worst`` is the slowest answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.latencies, self.stop = url, [], threading.Event()

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.wait(0.02):
            t0 = time.perf_counter()
            session.get(f"{self.url}/healthz", timeout=5).raise_for_status()
            self.latencies.append(time.perf_counter() - t0)


@pytest.mark.timeout(120)
def test_amplification_is_refused_at_upload_quickly(api_server: LocalStack) -> None:
    url = api_server.url
    cases = [
        ("tiny.gif", gif(1), {"width": "8192", "height": "8192"}, 413, "output_too_large"),
        ("three.gif", gif(3, 4), {"width": "8192", "height": "8192", "format": "gif"}, 413, "output_too_large"),
        ("million.gif", million_frame_gif(), {"width": "100", "height": "100"}, 422, "too_many_frames"),
        ("x.dds", b"DDS " + struct.pack("<I", 124) + bytes(120), {}, 415, "unsupported_format"),
    ]
    watch = HealthWatch(url)
    watch.start()
    try:
        for name, data, form, status, code in cases:
            t0 = time.perf_counter()
            resp = post(url, data, name, **form)
            took = time.perf_counter() - t0
            assert resp.status_code == status and resp.json()["error"]["code"] == code, (name, resp.text)
            assert took < 0.5, f"{name} took {took:.2f} s to refuse"
    finally:
        watch.stop.set()
        watch.join(10)
    assert watch.latencies and max(watch.latencies) < 0.2, (len(watch.latencies), max(watch.latencies))
    assert list(api_server.settings.upload_dir.iterdir()) == [], "nothing of a refused upload is kept"


def test_queue_depth_limit_refuses_the_rest_with_retry_after(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_queue_depth=5)
    local.start_api()  # and no workers: nothing drains
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda i: post(local.url, image_bytes(50 + i, 50), f"{i}.jpg"), range(20)))
    assert sorted(r.status_code for r in answers) == [202] * 5 + [503] * 15
    for refused in (r for r in answers if r.status_code == 503):
        assert refused.json()["error"]["code"] == "queue_full" and int(refused.headers["Retry-After"]) >= 1
    assert len(list(local.settings.upload_dir.iterdir())) == 5, "a refused upload leaves no file"


def test_a_fresh_api_answers_its_first_concurrent_uploads_of_every_format(local: LocalStack) -> None:
    """The first uploads reach a new API process together, and their headers are decoded in pool threads:
    Pillow's plugins must be loaded before (an import there could hang a request under gevent)."""
    formats = ("WEBP", "TIFF", "JPEG", "PNG", "BMP", "GIF")
    for _ in range(3):
        api = local.start_api()
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(lambda i: post(local.url, image_bytes(50 + i, 50, fmt=formats[i % 6]),
                                                   f"{i}.img", timeout=20), range(20)))
        assert [r.status_code for r in answers] == [202] * 20
        api.stop()


def test_redis_out_of_memory_is_503_and_writes_nothing(api_server: LocalStack, store: Store) -> None:
    client = redis.Redis.from_url(api_server.settings.redis_url)
    post(api_server.url, image_bytes(), "warm.jpg")  # the scripts are loaded, as on any running system
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) - 100_000)  # full, and then some
    try:
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            client.set("filler", b"x")
        depth = store.jobs.depth()
        resp = post(api_server.url, image_bytes(), "a.jpg")
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "store_full", resp.text
        assert store.jobs.depth() == depth and len(list(api_server.settings.upload_dir.iterdir())) == depth
    finally:
        client.config_set("maxmemory", 0)
        client.close()
    assert post(api_server.url, image_bytes(), "a.jpg").status_code == 202


@pytest.fixture
def small_disk(tmp_path: Path) -> object:
    folder = tmp_path / "small"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Write a filler file so that ``leave`` bytes stay free on ``folder``'s file system."""
    free = shutil.disk_usage(folder).free
    with (folder / f"filler-{time.monotonic_ns()}").open("wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


def test_a_nearly_full_disk_is_507_and_nothing_half_written(local: LocalStack, small_disk: Path) -> None:
    local.settings = local.settings.with_overrides(upload_dir=small_disk, min_free_disk_bytes=1_000_000)
    local.start_api()
    noisy = io.BytesIO()
    Image.effect_noise((500, 500), 100).convert("RGB").save(noisy, "PNG")  # ~750 KB that do not compress
    assert post(local.url, noisy.getvalue(), "a.png").status_code == 202
    fill(small_disk, leave=900_000)  # now under MIN_FREE_DISK_BYTES
    refused = post(local.url, image_bytes(), "b.jpg")
    assert refused.status_code == 507 and refused.json()["error"]["code"] == "insufficient_storage"
    local.stop()
    local.settings = local.settings.with_overrides(min_free_disk_bytes=0)  # now the write itself fails
    local.start_api()
    fill(small_disk, leave=100_000)
    before = sorted(p.name for p in small_disk.iterdir())
    full = post(local.url, noisy.getvalue(), "c.png")
    assert full.status_code == 507 and full.json()["error"]["code"] == "insufficient_storage", full.text
    assert sorted(p.name for p in small_disk.iterdir()) == before, "nothing half-written, no temp file left"


def test_uploads_are_written_once_in_place_and_refused_ones_leave_nothing(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_upload_bytes=1_000_000)
    local.start_api()
    folder = local.settings.upload_dir
    noisy = io.BytesIO()
    Image.effect_noise((500, 500), 100).convert("RGB").save(noisy, "PNG")  # ~750 KB
    assert post(local.url, b"GIF89a but not really an image", "a.gif").status_code == 422
    assert post(local.url, noisy.getvalue() * 2, "big.png").status_code == 413  # refused as it streams in
    host, port = local.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:  # a body that breaks off half way
        s.sendall(f"PUT /upload?width=10 HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\n"
                  f"Content-Length: {len(noisy.getvalue())}\r\n\r\n".encode() + noisy.getvalue()[:300_000])
    accepted = post(local.url, noisy.getvalue(), "ok.png")
    assert accepted.status_code == 202
    job_id = accepted.json()["jobId"]

    def only_the_accepted_input() -> bool:
        return sorted(p.name for p in folder.iterdir()) == [f"{job_id}.png"]

    wait_for(only_the_accepted_input, 15, "the uploads folder to hold the accepted input alone")
    assert (folder / f"{job_id}.png").read_bytes() == noisy.getvalue()


@pytest.mark.parametrize(("engine", "fmt", "side", "limit_mb"), [
    ("pillow", "PNG", 6000, 250),  # Pillow holds the decoded 6000x6000 image and the 4000x4000 result
    # libjpeg holds all the coefficients of a progressive JPEG (about 150 MB at 7000x7000)
    pytest.param("auto", "JPEG", 7000, 180, marks=vips_only),
])
def test_a_job_over_the_memory_ceiling_fails_and_a_fresh_process_takes_the_next(
        local: LocalStack, store: Store, engine: str, fmt: str, side: int, limit_mb: int) -> None:
    local.settings = local.settings.with_overrides(worker_memory_limit=limit_mb * 1024 ** 2,
                                                   max_output_dimension=8192, imaging_engine=engine)
    big = io.BytesIO()
    Image.new("RGB", (side, side), (10, 20, 30)).save(big, fmt, compress_level=1, progressive=True)
    local.start_api()
    hungry = post(local.url, big.getvalue(), f"big.{fmt.lower()}", width="4000", height="4000").json()["jobId"]
    small = post(local.url, image_bytes(), "small.jpg").json()["jobId"]
    local.start_workers(1)
    failed = wait_status(store, hungry, {JobStatus.FAILED, JobStatus.DONE}, timeout=60)
    assert failed.status is JobStatus.FAILED and failed.error_code == "out_of_memory", failed.error
    done = wait_status(store, small, {JobStatus.DONE, JobStatus.FAILED}, timeout=60)
    assert done.status is JobStatus.DONE and done.worker != failed.worker, "a fresh process took the next job"
    assert failed.lost == 0


@vips_only
def test_a_thin_picture_that_cover_enlarges_costs_the_output_not_the_whole_enlarged_picture(
        local: LocalStack, store: Store) -> None:
    """An 8000 x 1 PNG (a hundred bytes) to 300 x 300 cover: enlarging the whole picture before cutting it
    would make 720 million pixels (a gigabyte, seconds of CPU); the box is cut out first. Within a 200 MB
    ceiling, with the centre and with a smart crop."""
    local.settings = local.settings.with_overrides(worker_memory_limit=200 * 1024 ** 2)
    thin = io.BytesIO()
    Image.new("L", (8000, 1), 128).save(thin, "PNG")
    local.start_api()
    jobs = [post(local.url, thin.getvalue(), "thin.png", width="300", height="300", crop=crop).json()["jobId"]
            for crop in ("centre", "attention")]
    local.start_workers(1)
    for job_id in jobs:
        done = wait_status(store, job_id, {JobStatus.FAILED, JobStatus.DONE}, timeout=60)
        assert done.status is JobStatus.DONE and done.engine == "vips", done.error
        assert (done.output_width, done.output_height) == (300, 300)


def test_rate_limit_refuses_then_admits_after_retry_after(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(upload_rate_limit=3, upload_rate_window=2.0)
    local.start_api()
    answers = [post(local.url, image_bytes(), "a.jpg") for _ in range(3)]
    assert [r.status_code for r in answers] == [202] * 3
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    refused = post(local.url, image_bytes(), "a.jpg")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 2 and refused.headers["RateLimit-Limit"] == "3"
    time.sleep(wait + 0.1)
    assert post(local.url, image_bytes(), "a.jpg").status_code == 202


def open_stream(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def test_event_streams_are_capped_and_cannot_starve_uploads(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_streams_per_client=3, api_worker_connections=12)
    local.start_api(processes=1)
    streams = [open_stream(local.url) for _ in range(3)]
    try:
        for s in streams:
            assert s.recv(64).startswith(b"HTTP/1.1 200")
        refused = requests.get(f"{local.url}/events", timeout=10)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_streams"
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert post(local.url, image_bytes(), "a.jpg").status_code == 202
            assert requests.get(f"{local.url}/readyz", timeout=5).status_code == 200
            times.append(time.perf_counter() - t0)
        assert statistics.median(times) < 1.0
    finally:
        for s in streams:
            s.close()
    wait_for(lambda: requests.get(f"{local.url}/events?summary=0", stream=True, timeout=10).status_code == 200,
             10, "a stream once the others closed")


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_slow_body_is_cut_off_with_408(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(body_read_timeout=1.0)
    local.start_api()
    host, port = local.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                  b"Content-Length: 100000\r\n\r\n--xx\r\nContent-Disposition: form-data; name=\"image\"; "
                  b"filename=\"a.jpg\"\r\n\r\n")
        t0 = time.monotonic()
        answer = read_all(s)
        assert b" 408 " in answer.split(b"\r\n", 1)[0] and b"body_timeout" in answer, answer[:300]
        assert 0.9 < time.monotonic() - t0 < 5


def test_a_file_over_the_limit_is_refused_while_it_streams_in(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_upload_bytes=1_000_000, max_request_bytes=100_000_000)
    local.start_api()
    host, port = local.url.removeprefix("http://").split(":")
    head = (b"--xx\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                  b"Content-Length: 50000000\r\n\r\n" + head)
        sent = 0
        s.settimeout(0.05)
        answer = b""
        while sent < 50_000_000 and not answer:
            s.sendall(b"\0" * 65536)
            sent += 65536
            try:
                answer = s.recv(4096)
            except TimeoutError:
                continue
        s.settimeout(5)
        while answer and b"}" not in answer:  # the JSON body may come in a second packet
            answer += s.recv(4096)
        assert b" 413 " in answer.split(b"\r\n", 1)[0] and b"file_too_large" in answer, answer[:300]
        assert sent < 10_000_000, f"the server read {sent} bytes of a file over a 1 MB limit before refusing"
    assert list(local.settings.upload_dir.iterdir()) == []


def test_outputs_expire_and_their_result_answers_410(local: LocalStack, store: Store) -> None:
    local.settings = local.settings.with_overrides(output_ttl=2, sweep_interval=0.5)
    local.start_api()
    local.start_workers(1)
    job_id = post(local.url, image_bytes(), "a.jpg").json()["jobId"]
    done = wait_status(store, job_id, {JobStatus.DONE})
    assert requests.get(f"{local.url}/jobs/{job_id}/result", timeout=10).status_code == 200
    stats = requests.get(f"{local.url}/stats", timeout=10).json()["counts"]
    assert stats["stored_output_bytes"] == done.output_bytes and stats["stored_upload_bytes"] == 0
    output = local_path(local.settings, done.output_key)
    wait_for(lambda: not output.exists(), 15, "the sweep to remove the expired output")
    gone = requests.get(f"{local.url}/jobs/{job_id}/result", timeout=10)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "expired"
    wait_for(lambda: requests.get(f"{local.url}/stats", timeout=10).json()["counts"]["stored_output_bytes"] == 0,
             10, "the bytes stored to be counted again")
