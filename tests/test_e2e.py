"""End to end: gunicorn, a worker supervisor with two processes, and the tester over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from PIL import Image, ImageOps

from helpers import image_bytes, vips_only, wait_for
from imgqueue_client import Client
from imgqueue_dev.stack import LocalStack
from imgqueue_tester.samples import generate


def expected_size(path: Path, width: int, height: int) -> tuple[int, int]:
    """What fit=inside must give, from the oriented source size."""
    with Image.open(path) as im:
        w, h = ImageOps.exif_transpose(im).size if im.getexif().get(0x0112, 1) != 1 else im.size
    scale = min(width / w, height / h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def test_twenty_images_through_gunicorn_and_two_workers(stack: LocalStack, tmp_path: Path) -> None:
    paths = generate(tmp_path / "in", 20, seed=7, max_side=900)
    session = requests.Session()
    jobs = {}
    for path in paths:
        with path.open("rb") as fh:
            resp = session.post(f"{stack.url}/upload", files={"image": (path.name, fh)},
                                data={"width": "160", "height": "120", "fit": "inside"}, timeout=30)
        assert resp.status_code == 202, resp.text
        jobs[resp.json()["jobId"]] = path

    def finished() -> list[dict[str, object]] | None:
        got = session.get(f"{stack.url}/jobs", params={"ids": ",".join(jobs), "limit": 100}, timeout=10).json()
        records = got["jobs"]
        return records if all(r["status"] in ("done", "failed") for r in records) else None

    records = wait_for(finished, 90, "20 jobs to finish", interval=0.2)
    assert len(records) == 20  # type: ignore[arg-type]
    workers_seen = set()
    for record in records:  # type: ignore[union-attr]
        assert record["status"] == "done", record
        source = jobs[record["id"]]
        with Image.open(record["output_path"]) as out:
            out.load()
            assert out.size == expected_size(source, 160, 120) == (record["output_width"], record["output_height"])
        workers_seen.add(record["worker"])
        result = session.get(f"{stack.url}/jobs/{record['id']}/result", timeout=10)
        assert result.status_code == 200 and len(result.content) == record["output_bytes"]
    assert len(workers_seen) == 2, "both worker processes should have done work"


@vips_only
def test_each_job_records_the_engine_that_resized_it(stack: LocalStack) -> None:
    client = Client(stack.url)
    inputs = {"photo.jpg": (image_bytes(), "vips"), "still.gif": (image_bytes(fmt="GIF", mode="P", colour=3), "pillow"),
              "print.jpg": (image_bytes(mode="CMYK", colour=(0, 80, 160, 10)), "pillow")}
    ids = {name: str(client.submit(data, 64, 64, filename=name)["jobId"]) for name, (data, _) in inputs.items()}
    for name, (_, engine) in inputs.items():
        record = client.wait(ids[name], timeout=60)
        assert record["status"] == "done" and record["engine"] == engine, (name, record)


def run_tester(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "imgqueue_tester", "--api", stack.url, "--timeout", "90", *args],
                          capture_output=True, text=True, timeout=120)


def test_tester_exits_0_when_all_done(stack: LocalStack, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    generate(folder, 6, seed=3, max_side=600)
    out = stack.settings.output_dir
    (out / "stale.jpg").write_bytes(b"old")
    result = run_tester(stack, "--images", str(folder), "--clear-output", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 images: 6 done, 0 failed" in result.stdout
    assert "images/s" in result.stdout and "done=6" in result.stderr
    assert "following jobs live (server-sent events)" in result.stderr
    assert result.stdout.count("300x300") == 6, "every row shows its output size"
    assert not (out / "stale.jpg").exists()


def test_tester_exits_non_zero_when_a_job_fails(stack: LocalStack, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    generate(folder, 2, seed=4, max_side=400)
    (folder / "broken.png").write_bytes((folder / "sample_001_png-alpha.png").read_bytes()[:300])
    (folder / "notes.jpg").write_text("not an image")
    result = run_tester(stack, "--images", str(folder), "--poll")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "following jobs by polling" in result.stderr
    assert "failed" in result.stdout and "not_an_image" in result.stdout
    allowed = run_tester(stack, "--images", str(folder), "--allow-failures")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
