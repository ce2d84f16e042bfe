#!/usr/bin/env python3
"""Render the Swarm stack file from the compose files: ``docker compose ... config`` (the single-host
definition, .env included) turned into what ``docker stack deploy`` takes.

    python3 deploy/swarm/stack.py > build/stack.yml          # `make swarm-up` does this and deploys it

What changes for Swarm: no ``build`` or ``depends_on`` (the services retry Redis and the store themselves),
``deploy`` resources instead of ``mem_limit``, an attachable overlay network with ``endpoint_mode: dnsrr``
on every service (the virtual-IP mode needs iptables), the API published in ``mode: host`` on every
interface (so API_BIND=0.0.0.0: open mode refuses that, as it should; set AUTH_MODE=token and
ALLOWED_HOSTS), files in the object store (no volume is shared between nodes), Redis' password a Swarm
secret made from the same file. Everything else is the compose file's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FILES = ("docker-compose.yml", "docker-compose.s3.yml")
DROPPED = ("build", "depends_on", "restart", "mem_limit", "pids_limit", "container_name", "tmpfs", "profiles")


def rendered() -> dict[str, Any]:
    cmd = ["docker", "compose", *(f"--file={ROOT / f}" for f in FILES), "config", "--format", "json"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def for_swarm(name: str, service: dict[str, Any], replicas: dict[str, int]) -> dict[str, Any]:
    out = {k: v for k, v in service.items() if k not in DROPPED and v is not None}
    deploy: dict[str, Any] = {"endpoint_mode": "dnsrr", "restart_policy": {"condition": "any", "delay": "2s"}}
    if "mem_limit" in service:
        deploy["resources"] = {"limits": {"memory": str(service["mem_limit"])}}
    if name in replicas:
        deploy["replicas"] = replicas[name]
    out["deploy"] = deploy
    out["volumes"] = [*service.get("volumes", []), *(_tmpfs(t) for t in service.get("tmpfs", []))]
    if "ports" in service:
        out["ports"] = [{"target": p["target"], "published": int(p["published"]), "protocol": p.get("protocol", "tcp"),
                         "mode": "host"} for p in service["ports"]]
    if name == "api":
        out["environment"] = {**service.get("environment", {}), "API_BIND": "0.0.0.0"}
    out["networks"] = ["imgqueue"]
    return out


def _tmpfs(spec: str) -> dict[str, Any]:
    target, _, options = spec.partition(":")
    mount: dict[str, Any] = {"type": "tmpfs", "target": target}
    size = dict(o.split("=", 1) for o in options.split(",") if "=" in o).get("size")
    if size:
        mount["tmpfs"] = {"size": _bytes(size)}
    return mount


def _bytes(text: str) -> int:
    units = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


def stack(replicas: dict[str, int]) -> dict[str, Any]:
    config = rendered()
    services = {name: for_swarm(name, svc, replicas) for name, svc in config["services"].items()
                if not svc.get("profiles")}
    return {"version": "3.9", "services": services,
            "networks": {"imgqueue": {"driver": "overlay", "attachable": True}},
            "volumes": {name: {} for name in config.get("volumes", {})},
            "secrets": {name: {"file": spec["file"]} for name, spec in config.get("secrets", {}).items()}}


def main() -> int:
    replicas = {"worker": int(os.environ.get("WORKER_REPLICAS", "3"))}
    json.dump(stack(replicas), sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
