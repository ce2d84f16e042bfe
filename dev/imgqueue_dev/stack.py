"""imgqueue as local processes: a redis-server, the API under gunicorn and worker supervisors. The one
harness behind ``make dev``, the tests and the benchmarks (``compose.py`` is its Docker twin)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import IO, Any

from imgqueue.store import Store
from imgqueue_client import Client

from .procs import Proc, free_port, http_ok
from .settings import StackSettings
from .waiting import wait_until


class Service(str, Enum):
    """The processes of a stack and the command that runs each (the images run the same ones)."""

    REDIS = "redis"
    API = "api"
    WORKER = "worker"

    def argv(self, *args: str) -> list[str]:
        if self is Service.REDIS:
            exe = shutil.which("redis-server")
            if exe is None:
                raise FileNotFoundError("redis-server is not on PATH (Debian: apt-get install redis-server)")
            return [exe, *args]
        if self is Service.API:
            return [sys.executable, "-m", "gunicorn", "-c", "python:imgqueue_api.gunicorn_conf",
                    "imgqueue_api:create_app()", *args]
        return [sys.executable, "-m", "imgqueue_worker", *args]


def start_redis(port: int = 0, workdir: Path | None = None, appendonly: bool = False,
                log: IO[bytes] | None = None, *extra: str, password: bool | str = True) -> tuple[Proc, str]:
    """Start ``redis-server`` from PATH on ``port`` (0: a free one), with ``extra`` arguments; returns it and
    its URL. ``password``: a random one (or this one: a restart), from a config file of its own (never on
    the command line), and in the URL."""
    port = port or free_port()
    folder = workdir or Path(tempfile.mkdtemp(prefix="imgqueue-redis-"))
    folder.mkdir(parents=True, exist_ok=True)
    secret = password if isinstance(password, str) else secrets.token_hex(16) if password else ""
    conf = folder / "redis.conf"
    conf.touch(mode=0o600)
    conf.write_text(f"requirepass {secret}\n" if secret else "")
    argv = Service.REDIS.argv(str(conf), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save",
                              "", "--appendonly", "yes" if appendonly else "no", "--protected-mode", "no", *extra)
    proc = Proc(Service.REDIS.value, argv, log=log).start()
    auth = f"AUTH {secret}\r\n".encode() if secret else b""

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(auth + b"PING\r\n")
            return b"+PONG" in s.recv(64)

    wait_until(ping, 15, "redis-server", ignoring=(OSError,))
    return proc, f"redis://{f':{secret}@' if secret else ''}127.0.0.1:{port}/0"


class LocalStack:
    """The API and workers of one queue as child processes, all stopped by ``stop()``. Logs go to
    ``log_dir`` (one file per process), or to this process's output."""

    def __init__(self, settings: StackSettings, log_dir: Path | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.url = ""
        self.api: Proc | None = None
        self.workers: list[Proc] = []
        self.others: list[Proc] = []

    @property
    def client(self) -> Client:
        return Client(self.url)

    def client_with(self, token: str) -> Client:
        return Client(self.url, token=token)

    def env(self, **overrides: Any) -> dict[str, str]:
        return {**os.environ, **self.settings.with_overrides(**overrides).to_env()}

    def start_api(self, port: int = 0, processes: int = 2, timeout: float = 30) -> Proc:
        port = port or free_port()
        env = self.env(api_host="127.0.0.1", api_port=port, api_workers=processes)
        # SIGINT: gunicorn's quick shutdown (SIGTERM waits out every keep-alive connection, seconds each).
        api = Proc(Service.API.value, Service.API.argv(), env=env, log=self._log("api"),
                   stop_signal=signal.SIGINT).start()
        self.api, self.url = api, f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{self.url}/readyz") or not api.alive(), timeout, "the API")
        if not api.alive():
            raise RuntimeError(f"the API exited at start (see {self.log_dir or 'its log'})")
        return api

    def start_workers(self, concurrency: int = 1, **overrides: Any) -> Proc:
        """A worker supervisor with ``concurrency`` processes; ``overrides`` change its settings."""
        name = f"worker-{len(self.workers)}"
        argv = Service.WORKER.argv("--concurrency", str(concurrency))
        proc = Proc(name, argv, env=self.env(**overrides), log=self._log(name)).start()
        self.workers.append(proc)
        return proc

    def wait_workers(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` worker processes have registered with a fresh heartbeat."""
        store = Store.from_settings(self.settings)
        try:
            wait_until(lambda: sum(1 for w in store.workers.all() if w["alive"]) >= count, timeout,
                       f"{count} worker processes")
        finally:
            store.close()

    def stop_workers(self) -> None:
        for proc in self.workers:
            proc.stop()
        self.workers.clear()

    def worker_logs(self) -> str:
        if self.log_dir is None:
            return ""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop(self) -> None:
        """Every process: told to stop all at once (workers finish their job meanwhile), then waited for."""
        procs = [p for p in (*self.workers, self.api) if p is not None]
        for proc in procs:
            proc.signal(proc.stop_signal)
        for proc in procs:
            proc.stop(signalled=True)
        for proc in self.others:
            proc.stop()
        self.workers.clear()
        self.api = None

    def _log(self, name: str) -> IO[bytes] | None:
        return _log_file(self.log_dir, name)


@contextmanager
def private_stack(data: Path | None = None, redis_port: int = 0, log_dir: Path | None = None,
                  **overrides: Any) -> Iterator[LocalStack]:
    """A stack with its own redis-server and folders (in ``data``, default a temp folder)."""
    data = (data or Path(tempfile.mkdtemp(prefix="imgqueue-stack-"))).resolve()
    redis_proc, url = start_redis(redis_port, data / "redis", log=_log_file(log_dir, "redis"))
    settings = StackSettings.from_env(redis_url=url, upload_dir=data / "uploads", output_dir=data / "output",
                                      **overrides)
    stack = LocalStack(settings, log_dir)
    stack.others.append(redis_proc)
    try:
        yield stack
    finally:
        stack.stop()


def _log_file(log_dir: Path | None, name: str) -> IO[bytes] | None:
    """``log_dir/name.log`` opened for the process (Proc.stop closes it), or None: inherit our output."""
    if log_dir is None:
        return None
    log_dir.mkdir(parents=True, exist_ok=True)
    return (log_dir / f"{name}.log").open("wb")
