"""imgqueue as a Docker Compose project: the harness of the integration tests (``stack.py``'s twin).

``compose_project(root, workdir, **settings)`` starts a fresh project (own containers, volumes and API
port) from the repository's docker-compose.yml through testcontainers' ``DockerCompose``, waits until
every healthcheck passes, and removes it with its volumes afterwards, even when the test fails. Settings
go through an env file of the project's own, which compose reads for interpolation and hands to the
containers (``IMGQUEUE_ENV_FILE``); the repository's .env (base images from ``make images``) comes first.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from testcontainers.compose import DockerCompose

from imgqueue_client import TERMINAL, ApiError, Client

from .procs import free_port
from .waiting import Deadline, WaitTimeout, wait_until

# Read inside a container: every file of the output volume, decoded (or why it would not decode).
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


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge: containers reach the host there (host-gateway), and
    nothing outside this machine does."""
    config = json.loads(docker("network", "inspect", "bridge", "-f", "{{json (index .IPAM.Config 0)}}").stdout)
    return str(config.get("Gateway") or ipaddress.ip_network(config["Subnet"])[1])


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


@dataclass
class ComposeStack:
    root: Path
    project: str
    compose_project: DockerCompose
    url: str
    client: Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = Client(self.url)

    def compose(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``docker compose`` with this project's files and env file."""
        cmd = [*self.compose_project.compose_command_property, *args]
        return subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=check)

    def containers(self, service: str) -> list[dict[str, str]]:
        out = self.compose("ps", "--format", "json", service).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [r for r in rows if r.get("State") == "running"]

    def upload(self, path: Path, deadline: Deadline, **form: Any) -> str | None:
        """Upload until the API acknowledges (202) or the deadline passes; None if refused for good."""
        while not deadline.passed:
            try:
                return str(self.client.submit(path, **form)["jobId"])
            except ApiError as exc:
                if exc.status != 503:  # 503: Redis restarting; the client retries, as a real one would
                    return None
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise deadline.fail(f": the upload of {path.name} to be acknowledged")

    def jobs(self, ids: list[str]) -> list[dict[str, Any]]:
        return self.client.jobs(ids)

    def wait_finished(self, ids: list[str], timeout: float = 240) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []

        def finished() -> list[dict[str, Any]] | None:
            seen[:] = self.jobs(ids)
            return seen if len(seen) == len(ids) and all(r["status"] in TERMINAL for r in seen) else None

        try:
            return wait_until(finished, timeout, f"{len(ids)} jobs to finish", 0.5,
                              ignoring=(requests.RequestException, ApiError))
        except WaitTimeout as exc:
            counts = Counter(r["status"] for r in seen)
            raise WaitTimeout(f"{exc}: {dict(counts)}, {len(ids) - len(seen)} missing; logs:\n{self.logs()[-4000:]}"
                              ) from None

    def outputs(self) -> dict[str, Any]:
        """Every file in the shared output volume, decoded inside a worker container."""
        container = self.containers("worker")[0]["ID"]
        result = docker("exec", container, "python3", "-c", CHECK_OUTPUTS)
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "200", check=False).stdout


@contextmanager
def compose_project(root: Path, workdir: Path, workers: int = 3, files: tuple[str, ...] = ("docker-compose.yml",),
                    **settings: str) -> Iterator[ComposeStack]:
    """A fresh project from the compose ``files``, with ``workers`` worker containers, up and healthy; removed
    with its volumes after. ``settings`` are environment variables for compose and the containers (the root
    .env's too)."""
    project = f"iqit{uuid.uuid4().hex[:8]}"
    port = free_port()
    env_file = workdir / f"{project}.env"
    base = read_env_file(root / ".env") if (root / ".env").exists() else {}
    env = {**base, **settings, "COMPOSE_PROJECT_NAME": project, "IMGQUEUE_ENV_FILE": str(env_file),
           "API_PORT": str(port), "WORKER_REPLICAS": str(workers)}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    compose = DockerCompose(root, compose_file_name=list(files), env_file=str(env_file), wait=True, build=False)
    with compose:  # up --wait; down --volumes on the way out
        stack = ComposeStack(root, project, compose, f"http://127.0.0.1:{port}")
        try:
            if "docker-compose.yml" in files and not stack.client.wait_ready(60):
                raise AssertionError(f"the API of {project} is not ready; logs:\n{stack.logs()[-4000:]}")
            yield stack
        finally:
            (workdir / f"{project}.log").write_text(stack.logs())
