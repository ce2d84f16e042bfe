"""imgqueue as a Docker Swarm stack on a single-node swarm (the integration test's harness): the engine
joins a swarm if it was in none, the stack rendered by deploy/swarm/stack.py is deployed, and at the end
the stack, its volumes and (when we made them) the swarm and its gateway network are gone again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from imgqueue_client import Client

from .compose import docker, read_env_file
from .procs import free_port
from .waiting import wait_until


@dataclass
class SwarmStack:
    name: str
    url: str
    client: Client

    def services(self) -> dict[str, str]:
        """Service name -> 'running/desired' replicas."""
        out = docker("stack", "services", self.name, "--format", "{{.Name}} {{.Replicas}}").stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())

    def scale(self, service: str, replicas: int) -> None:
        docker("service", "scale", "--detach=false", f"{self.name}_{service}={replicas}", timeout=180)


def _in_swarm() -> bool:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active"


@contextmanager
def single_node_swarm() -> Iterator[None]:
    """A swarm for the duration; left, with the gateway network it made, if there was none before."""
    if _in_swarm():
        yield
        return
    had_gateway = docker("network", "inspect", "docker_gwbridge", check=False).returncode == 0
    docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        wait_until(lambda: docker("swarm", "leave", "--force", check=False).returncode == 0 or not _in_swarm(),
                   60, "leaving the swarm", interval=2)
        if not had_gateway:
            docker("network", "rm", "docker_gwbridge", check=False)


@contextmanager
def swarm_stack(root: Path, workdir: Path, workers: int = 2, **settings: str) -> Iterator[SwarmStack]:
    name = f"iqsw{uuid.uuid4().hex[:6]}"
    port = free_port()
    env_file = workdir / f"{name}.env"
    base = read_env_file(root / ".env") if (root / ".env").exists() else {}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**base, **settings}.items()))
    render_env = {**os.environ, "IMGQUEUE_ENV_FILE": str(env_file), "API_PORT": str(port),
                  "WORKER_REPLICAS": str(workers), "COMPOSE_PROJECT_NAME": name}
    stack_file = workdir / f"{name}.json"
    stack_file.write_text(subprocess.run([sys.executable, str(root / "deploy" / "swarm" / "stack.py")], env=render_env,
                                         capture_output=True, text=True, check=True).stdout)
    token = next((t.split(":", 2)[2] for t in settings.get("API_TOKENS", "").split(",") if ":admin:" in t), None)
    stack = SwarmStack(name, f"http://127.0.0.1:{port}", Client(f"http://127.0.0.1:{port}", token=token))
    docker("stack", "deploy", "--compose-file", str(stack_file), name, timeout=180)
    try:
        if not stack.client.wait_ready(180):
            raise AssertionError(f"the stack's API is not ready: {json.dumps(stack.services())}")
        yield stack
    finally:
        docker("stack", "rm", name, check=False)
        wait_until(lambda: not docker("network", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}"
                                      ).stdout.strip(), 120, "the stack's network to go", interval=1)
        wait_until(lambda: not docker("ps", "-aq", "--filter", f"label=com.docker.stack.namespace={name}"
                                      ).stdout.strip(), 120, "the stack's containers to go", interval=1)
        volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}").stdout.split()
        if volumes:
            docker("volume", "rm", *volumes, check=False)
        time.sleep(1)
