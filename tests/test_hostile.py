"""Every file of Pillow's own test-image collection (hostile, broken and exotic images among them, fetched
from the Pillow source package on PyPI at test time, never committed) goes through the running stack:
no server error, every refusal a JSON error with a code, every accepted job ends done or failed with a
reason, and the stack still answers afterwards."""

from __future__ import annotations

import re
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import PIL
import pytest
import requests

from helpers import image_bytes
from imgqueue_client import Client
from imgqueue_dev.stack import LocalStack

CACHE = Path(__file__).resolve().parents[1] / "build" / "test-cache"
INDEX = "https://pypi.org/simple/pillow/"
SPECS = [{"width": "120", "height": "80"}, {"width": "90", "fit": "inside", "format": "png"},
         {"width": "64", "height": "64", "fit": "contain", "format": "webp"}, {"height": "50", "format": "gif"}]


def pillow_test_images() -> list[Path]:
    """Tests/images of the Pillow sdist matching the installed Pillow, downloaded once into build/."""
    folder = CACHE / f"pillow-{PIL.__version__}-images"
    if not folder.is_dir():
        archive = CACHE / f"pillow-{PIL.__version__}.tar.gz"
        if not archive.exists():
            try:
                with urllib.request.urlopen(INDEX, timeout=30) as resp:
                    page = resp.read().decode()
                match = re.search(rf'href="([^"]*/pillow-{re.escape(PIL.__version__)}\.tar\.gz)[^"]*"', page)
                if match is None:
                    pytest.skip(f"no sdist of Pillow {PIL.__version__} on {INDEX}")
                CACHE.mkdir(parents=True, exist_ok=True)
                urllib.request.urlretrieve(match.group(1), archive)
            except OSError as exc:
                pytest.skip(f"PyPI is not reachable from here ({exc})")
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and "/Tests/images/" in m.name]
            for member in members:
                member.name = member.name.split("/Tests/images/", 1)[1].replace("/", "__")
            tar.extractall(folder, members=members, filter="data")
    return sorted(p for p in folder.iterdir() if p.is_file())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_pillows_test_images_never_cause_a_server_error(stack: LocalStack) -> None:
    files = pillow_test_images()
    assert len(files) > 500, "the collection should hold hundreds of files"
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=8))

    def send(index: int) -> tuple[Path, int, dict[str, object]]:
        path = files[index]
        resp = session.post(f"{stack.url}/upload", files={"image": (path.name, path.read_bytes())},
                            data=SPECS[index % len(SPECS)], timeout=120)
        body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
        return path, resp.status_code, body

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(len(files))))
    server_errors = [(p.name, s) for p, s, _ in answers if s >= 500]
    assert not server_errors, server_errors
    for path, status, body in answers:
        if status != 202:
            assert 400 <= status < 500 and body.get("error", {}).get("code"), (path.name, status, body)  # type: ignore[union-attr]
    accepted = [str(body["jobId"]) for _, status, body in answers if status == 202]
    client = Client(stack.url)
    records = client.wait_all(accepted, timeout=400, interval=1.0)
    assert len(records) == len(accepted)
    for record in records:
        assert record["status"] in ("done", "failed"), record
        if record["status"] == "failed":
            assert record["error_code"] and record["error"], record
    refused = sorted({body["error"]["code"] for _, s, body in answers if s != 202})  # type: ignore[index]
    failed = [r["error_code"] for r in records if r["status"] == "failed"]
    print(f"{len(files)} files: {len(files) - len(accepted)} refused ({', '.join(refused)}); {len(accepted)} "
          f"accepted: {len(accepted) - len(failed)} done, {len(failed)} failed ({', '.join(sorted(set(failed)))})")
    assert client.ready()
    fresh = client.submit(image_bytes(), 100, 100)
    assert client.wait(str(fresh["jobId"]), timeout=60)["status"] == "done", "the stack still works"
