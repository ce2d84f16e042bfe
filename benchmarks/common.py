"""What the benchmark parts share: the photo set, timing helpers, a private Redis."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from imgqueue import imaging
from imgqueue.spec import Limits
from imgqueue_dev.stack import LocalStack, private_stack, start_redis
from imgqueue_tester.samples import picture

FORMATS = ("JPEG", "PNG", "WEBP")


@dataclass(frozen=True)
class Photo:
    path: Path
    data: bytes
    format: str
    width: int
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


def load_photos(quick: bool) -> tuple[list[Photo], str]:
    """BENCH_PHOTOS when set (e.g. ../shared/corpus/photos), else a generated set. Returns (photos, source)."""
    folder = os.environ.get("BENCH_PHOTOS")
    if folder and Path(folder).is_dir():
        paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
        source = str(Path(folder).resolve())
    else:
        out = Path(tempfile.mkdtemp(prefix="imgqueue-bench-"))
        paths = []
        for i, fmt in enumerate(["JPEG", "PNG", "WEBP"] * (1 if quick else 3)):
            size = (1600, 1200) if quick else (3000 + 400 * i, 2000 + 200 * i)
            img = picture(*size, seed=i)
            path = out / f"gen_{i:02d}.{fmt.lower().replace('jpeg', 'jpg')}"
            img.save(path, fmt, **({} if fmt == "PNG" else {"quality": 90}))
            paths.append(path)
        source = "generated"
    if quick:
        paths = _one_per_format(paths)
    photos = []
    for path in paths:
        data = path.read_bytes()
        info = imaging.probe(data, Limits(max_pixels=10**9))
        photos.append(Photo(path, data, info.format, info.width, info.height))
    return photos, source


def _one_per_format(paths: list[Path]) -> list[Path]:
    seen: dict[str, Path] = {}
    for p in paths:
        seen.setdefault(p.suffix.lower().replace("jpeg", "jpg"), p)
    return list(seen.values())


def best_of(runs: list[float]) -> float:
    return min(runs) if runs else float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def devnull() -> IO[bytes]:
    """A log for a server whose output the benchmark does not need (Proc.stop closes it)."""
    return open(os.devnull, "wb")


@contextmanager
def private_redis() -> Iterator[str]:
    proc, url = start_redis(log=devnull())
    try:
        yield url
    finally:
        proc.stop()


@contextmanager
def bench_stack(**overrides: Any) -> Iterator[LocalStack]:
    """A private redis-server and the API (logs in a temp folder), for the parts that go through HTTP."""
    logs = Path(tempfile.mkdtemp(prefix="imgqueue-bench-logs-"))
    # Every round uploads the same photos again: identical uploads would share the first one's outputs
    # (DEDUP_BY_CONTENT) and measure nothing.
    settings = {"max_input_pixels": 100_000_000, "log_level": "WARNING", "upload_rate_limit": 0,
                "dedup_by_content": False, **overrides}
    with private_stack(log_dir=logs, **settings) as stack:
        stack.start_api()
        yield stack
