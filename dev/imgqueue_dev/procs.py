"""Child processes with deadlines: start one in its own session, wait for it to be ready, stop it and
everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@dataclass
class Proc:
    """A child process in its own session, so that stopping it stops everything it started."""

    name: str
    argv: list[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    log: IO[bytes] | None = None
    stop_signal: int = signal.SIGTERM  # what ``stop`` sends first (gunicorn: SIGINT for a quick shutdown)
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

    def stop(self, timeout: float = 20.0, signalled: bool = False) -> int | None:
        """Send ``stop_signal`` to the process group (unless ``signalled`` already), wait up to ``timeout``,
        then SIGKILL it. Closes its log."""
        if self.popen is None:
            return None
        if not signalled:
            self.signal(self.stop_signal)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            code = self.popen.wait(10)
        if self.log is not None:
            self.log.close()
        return code
