"""Run the stack as local processes, without Docker: a private redis-server, the API under gunicorn
and the worker supervisor. Used by ``make dev``, the tests and the benchmarks.

    python -m imgqueue.local [--workers N] [--api-port 8000] [--redis-port 0]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> None:
    """Call ``check()`` until it returns truthy; raise TimeoutError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


@dataclass
class Proc:
    """A child process in its own session, so that stopping it stops everything it started."""

    name: str
    argv: list[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    log: IO[bytes] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> Proc:
        self.popen = subprocess.Popen(self.argv, env=dict(self.env) if self.env else None, cwd=self.cwd,
                                      stdout=self.log, stderr=subprocess.STDOUT if self.log else None,
                                      start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signum)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM the process group, wait up to ``timeout``, then SIGKILL it."""
        if self.popen is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.popen.wait(10)


def start_redis(port: int = 0, workdir: Path | None = None, appendonly: bool = False,
                log: IO[bytes] | None = None) -> tuple[Proc, str]:
    """Start ``redis-server`` from PATH on ``port`` (0: a free one); returns it and its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server is not on PATH (Debian: apt-get install redis-server)")
    port = port or free_port()
    folder = workdir or Path(tempfile.mkdtemp(prefix="imgqueue-redis-"))
    folder.mkdir(parents=True, exist_ok=True)
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
            "--appendonly", "yes" if appendonly else "no", "--protected-mode", "no"]
    proc = Proc("redis", argv, log=log).start()

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    wait_until(ping, 15, "redis-server")
    return proc, f"redis://127.0.0.1:{port}/0"


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def start_api(env: Mapping[str, str], port: int, workers: int = 2, log: IO[bytes] | None = None) -> Proc:
    env = {**env, "API_HOST": "127.0.0.1", "API_PORT": str(port), "API_WORKERS": str(workers)}
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:imgqueue_api.gunicorn_conf", "imgqueue_api:create_app()"]
    proc = Proc("api", argv, env=env, log=log).start()
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz") or not proc.alive(), 30, "the API")
    if not proc.alive():
        raise RuntimeError("the API exited at start (see its log)")
    return proc


def start_workers(env: Mapping[str, str], concurrency: int, log: IO[bytes] | None = None) -> Proc:
    argv = [sys.executable, "-m", "imgqueue_worker", "--concurrency", str(concurrency)]
    return Proc("worker", argv, env=dict(env), log=log).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imgqueue.local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", os.cpu_count() or 1)))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", "8000")))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", "0")),
                        help="0: a free port")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    args = parser.parse_args(argv)
    data = args.data.resolve()
    redis_proc, url = start_redis(args.redis_port, data / "redis")
    env = {**os.environ, "REDIS_URL": url, "UPLOAD_DIR": str(data / "uploads"), "OUTPUT_DIR": str(data / "output")}
    procs = [redis_proc]
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        procs.append(start_api(env, args.api_port))
        procs.append(start_workers(env, args.workers))
        print(f"imgqueue is running: API http://127.0.0.1:{args.api_port}  redis {url}  "
              f"{args.workers} workers  outputs {data / 'output'}  (Ctrl-C stops everything)", flush=True)
        while not stop and all(p.alive() for p in procs):
            time.sleep(0.5)
        for p in procs:
            if not p.alive() and not stop:
                print(f"{p.name} exited with code {p.popen.returncode if p.popen else '?'}", file=sys.stderr)
    finally:
        for p in reversed(procs):
            p.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
