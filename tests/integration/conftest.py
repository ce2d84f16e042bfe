"""The whole compose stack under testcontainers' DockerCompose: one fresh project (own containers, own
volumes, own API port) per test, torn down with its volumes even when the test fails.

Needs the images built first (``make integration-test`` runs ``make build``, which writes
build/images.env naming the base images)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from testcontainers.compose import DockerCompose

from imgqueue.local import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGES_ENV = ROOT / "build" / "images.env"

# Fast failure detection so that chaos tests finish in seconds, not minutes.
FAST = {
    "HEARTBEAT_INTERVAL": "1",
    "HEARTBEAT_TTL": "3",
    "RECOVERY_INTERVAL": "1",
    "SHUTDOWN_TIMEOUT": "20",
    "WORKER_STOP_GRACE": "25s",
    "WORKER_CONCURRENCY": "1",
    "RETRY_BACKOFF_BASE": "0.2",
    "LOG_LEVEL": "INFO",
}

CHECK_OUTPUTS = r"""
import json, os
from PIL import Image
out = {}
for name in os.listdir('/data/output'):
    path = os.path.join('/data/output', name)
    try:
        with Image.open(path) as im:
            im.load()
            out[name] = [im.width, im.height, os.path.getsize(path)]
    except Exception as exc:
        out[name] = repr(exc)
print(json.dumps(out))
"""


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


@dataclass
class Stack:
    compose: DockerCompose
    url: str
    project: str
    session: requests.Session = field(default_factory=requests.Session)

    def compose_cmd(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*self.compose.compose_command_property, *args]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=check)

    def containers(self, service: str) -> list[dict[str, str]]:
        out = self.compose_cmd("ps", "--format", "json", service).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [r for r in rows if r.get("State") == "running"]

    def upload(self, path: Path, deadline: float, **form: str) -> str | None:
        """Upload until the API acknowledges (202) or the deadline passes; None if refused for good."""
        while time.monotonic() < deadline:
            try:
                with path.open("rb") as fh:
                    resp = self.session.post(f"{self.url}/upload", files={"image": (path.name, fh)},
                                             data=form, timeout=30)
            except requests.RequestException:
                time.sleep(0.5)
                continue
            if resp.status_code == 202:
                return str(resp.json()["jobId"])
            if resp.status_code == 503:  # Redis restarting: the client retries, as a real one would
                time.sleep(0.5)
                continue
            return None
        raise AssertionError(f"upload of {path.name} not acknowledged before the deadline")

    def jobs(self, ids: list[str]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for start in range(0, len(ids), 100):
            chunk = ids[start:start + 100]
            resp = self.session.get(f"{self.url}/jobs", params={"ids": ",".join(chunk), "limit": "1000"}, timeout=10)
            resp.raise_for_status()
            records.extend(resp.json()["jobs"])
        return records

    def wait_finished(self, ids: list[str], timeout: float = 240) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        records: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            try:
                records = self.jobs(ids)
            except requests.RequestException:
                time.sleep(0.5)
                continue
            if len(records) == len(ids) and all(r["status"] in ("done", "failed") for r in records):
                return records
            time.sleep(0.5)
        counts: dict[str, int] = {}
        for r in records:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        raise AssertionError(f"jobs not finished after {timeout:.0f} s: {counts}, {len(ids) - len(records)} missing;"
                             f" logs:\n{self.logs()[-4000:]}")

    def wait_until(self, check: Callable[[], object], timeout: float, what: str) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def outputs(self) -> dict[str, Any]:
        """Every file in the shared output volume, decoded inside a worker container."""
        container = self.containers("worker")[0]["ID"]
        result = docker("exec", container, "python3", "-c", CHECK_OUTPUTS)
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def logs(self) -> str:
        return self.compose_cmd("logs", "--no-color", "--tail", "200", check=False).stdout


@pytest.fixture(scope="session")
def images_env() -> dict[str, str]:
    if not IMAGES_ENV.exists():
        pytest.fail("build/images.env is missing: run `make build` (make integration-test does) first")
    env = {}
    for line in IMAGES_ENV.read_text().splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            env[key] = value
    return env


@pytest.fixture
def make_stack(images_env: dict[str, str], tmp_path: Path) -> Callable[..., Any]:
    """``with make_stack(workers=3, **settings) as stack:`` starts a fresh project and waits until healthy."""

    @contextmanager
    def start(workers: int = 3, **settings: str) -> Iterator[Stack]:
        project = f"iqit{uuid.uuid4().hex[:8]}"
        port = free_port()
        env = {**images_env, **FAST, **settings, "COMPOSE_PROJECT_NAME": project, "API_PORT": str(port),
               "WORKER_REPLICAS": str(workers)}
        env_file = tmp_path / f"{project}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        compose = DockerCompose(ROOT, compose_file_name="docker-compose.yml", env_file=str(env_file),
                                wait=True, build=False)
        with compose:
            stack = Stack(compose, f"http://127.0.0.1:{port}", project)
            try:
                yield stack
            finally:
                (tmp_path / f"{project}.log").write_text(stack.logs())

    return start
