"""The contender users would pick instead: sharp (Node), from npm into build/sharp-bench (pinned versions:
benchmarks/sharp/package.json and its lock file).

``install()`` runs ``npm ci`` once (again when the lock file changes); ``OneCore`` drives ``onecore.js``
(sharp alone, one libvips thread) over stdin for the one-core table; ``demo_stack`` runs the Node demo's
pipeline (``api.js``: Express upload, ``SET job:<id>:status``, ``LPUSH image_jobs``; ``worker.js``:
``BRPOP``, ``sharp(input).resize(w, h).toFile(output)``) with its own redis-server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgqueue_dev.procs import Proc, free_port
from imgqueue_dev.stack import start_redis
from imgqueue_dev.waiting import wait_until

from .common import devnull

SOURCE = Path(__file__).resolve().parent / "sharp"
TARGET = Path(__file__).resolve().parents[1] / "build" / "sharp-bench"
FILES = ("package.json", "package-lock.json", "api.js", "worker.js", "onecore.js")
INSTALL_TIMEOUT = 600


class Unavailable(RuntimeError):
    """sharp cannot run here (no node or npm, or the install failed): the tables leave it out."""


def install() -> Path:
    """build/sharp-bench with node_modules matching the lock file; Unavailable when that cannot be done."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise Unavailable("node and npm are not on PATH")
    TARGET.mkdir(parents=True, exist_ok=True)
    lock = (SOURCE / "package-lock.json").read_bytes()
    stamp = TARGET / "node_modules" / ".imgqueue-lock"
    for name in FILES:
        shutil.copyfile(SOURCE / name, TARGET / name)
    if stamp.exists() and stamp.read_bytes() == lock:
        return TARGET
    try:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TARGET,
                              capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"npm ci took longer than {INSTALL_TIMEOUT} s") from None
    if done.returncode != 0:
        raise Unavailable(f"npm ci failed: {done.stderr.strip()[-300:]}")
    stamp.write_bytes(lock)
    return TARGET


def versions(folder: Path) -> dict[str, str]:
    out = subprocess.run(["node", "-e", "const s=require('sharp');console.log(JSON.stringify(s.versions))"],
                         cwd=folder, capture_output=True, text=True, timeout=60)
    data = json.loads(out.stdout) if out.returncode == 0 else {}
    return {"node": subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip(),
            "sharp": data.get("sharp", "?"), "libvips": data.get("vips", "?")}


class OneCore:
    """``onecore.js`` pinned to ``cpu``: ``run(files, ...)`` resizes them and returns (seconds, bytes)."""

    def __init__(self, folder: Path, cpu: int) -> None:
        self.proc = subprocess.Popen(["node", "onecore.js"], cwd=folder, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1,
                                     preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
        self.info = self._reply()

    def _reply(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # onecore.js answers every command; a dead node gives EOF
        if not line:
            raise Unavailable(f"onecore.js exited (code {self.proc.poll()})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"sharp: {reply['error']}")
        return reply

    def run(self, files: list[Path], width: int, height: int, fit: str, fmt: str | None = None,
            save: list[Path] | None = None) -> tuple[float, list[int]]:
        assert self.proc.stdin is not None
        command = {"files": [str(f.resolve()) for f in files], "width": width, "height": height, "fit": fit,
                   "format": fmt, "save": [str(s.resolve()) for s in save] if save else None}
        self.proc.stdin.write(json.dumps(command) + "\n")
        reply = self._reply()
        return float(reply["seconds"]), list(reply["bytes"])

    def run_set(self, files: list[Path], outputs: list[dict[str, Any]],
                save: list[Path] | None = None) -> tuple[float, list[int]]:
        """Each file into every output of ``outputs`` (width, height, fit, format) with clone()."""
        assert self.proc.stdin is not None
        command = {"files": [str(f.resolve()) for f in files], "set": outputs,
                   "save": [str(s.resolve()) for s in save] if save else None}
        self.proc.stdin.write(json.dumps(command) + "\n")
        reply = self._reply()
        return float(reply["seconds"]), list(reply["bytes"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class DemoStack:
    """The Node demo on loopback: ``url`` takes uploads, ``redis_url`` holds ``job:<id>:status``."""

    folder: Path
    url: str = ""
    redis_url: str = ""
    procs: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    data: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="imgqueue-bench-sharp-")))

    def env(self) -> dict[str, str]:
        return {**os.environ, "REDIS_URL": self.redis_url, "UPLOAD_DIR": str(self.data / "uploads"),
                "OUTPUT_DIR": str(self.data / "output")}

    def start(self) -> DemoStack:
        for sub in ("uploads", "output", "redis"):
            (self.data / sub).mkdir(parents=True, exist_ok=True)
        redis_proc, self.redis_url = start_redis(workdir=self.data / "redis", log=devnull(), password=False)
        self.procs.append(redis_proc)
        port = free_port()
        api = Proc("sharp-api", ["node", "api.js"], env={**self.env(), "PORT": str(port)}, cwd=self.folder,
                   log=devnull()).start()
        self.procs.append(api)
        self.url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(self.url), 30, "the sharp demo API", ignoring=(OSError,))
        return self

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self.workers.append(Proc("sharp-worker", ["node", "worker.js"], env=self.env(), cwd=self.folder,
                                     log=devnull()).start())

    def stop_workers(self) -> None:
        for proc in self.workers:
            proc.stop()
        self.workers.clear()

    def stop(self) -> None:
        self.stop_workers()
        for proc in reversed(self.procs):
            proc.stop()
        shutil.rmtree(self.data, ignore_errors=True)


@contextmanager
def demo_stack(folder: Path) -> Iterator[DemoStack]:
    stack = DemoStack(folder)
    try:
        yield stack.start()
    finally:
        stack.stop()


def _answers(url: str) -> bool:
    """The demo API answers 404 for an unknown job: up."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{url}/status/none", timeout=2)
    except urllib.error.HTTPError as exc:
        return exc.code == 404
    except OSError:
        return False
    return True
