"""The code's shape, checked over every package of the repository (benchmarks and dev included): one door
into Redis, one status vocabulary, a core that knows nothing of HTTP, of gevent or of Pillow where it
should not, a tester that is only an HTTP client, short modules and no import cycles."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "imgqueue": ROOT / "shared" / "imgqueue",
    "imgqueue_client": ROOT / "client" / "imgqueue_client",
    "imgqueue_api": ROOT / "services" / "api" / "imgqueue_api",
    "imgqueue_worker": ROOT / "services" / "worker" / "imgqueue_worker",
    "imgqueue_tester": ROOT / "services" / "tester" / "imgqueue_tester",
    "imgqueue_dev": ROOT / "dev" / "imgqueue_dev",
    "benchmarks": ROOT / "benchmarks",
}
DOOR = {*(PACKAGES["imgqueue"] / "store").glob("*.py"), PACKAGES["imgqueue"] / "keys.py"}
# Outside the door, these talk to Redis servers, never to imgqueue's keys (which they read through keys.py):
REDIS_CLIENTS = {
    "imgqueue_dev.sentinel": "administers the failover topology's servers (SENTINEL, INFO)",
    "benchmarks.queue_overhead": "the raw-Redis and RQ contenders",
    "benchmarks.end_to_end": "watches both contenders through the demo's status key",
    "benchmarks.housekeeping": "empties its private server between runs",
    "benchmarks.redis_calls": "reads the server's command statistics",
}
STATUS_WORDS = frozenset({"queued", "processing", "retrying", "done", "failed", "cancelled", "delayed"})
# Where a status may be spelled: its definition, and the files generated from it.
VOCABULARY = {PACKAGES["imgqueue"] / "status.py", PACKAGES["imgqueue_client"] / "statuses.py"}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            name = ".".join([package, *path.relative_to(folder).with_suffix("").parts])
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(path: Path, module: str, known: frozenset[str] = frozenset()) -> set[str]:
    """Absolute names of the modules ``module`` imports (relative imports resolved; ``from pkg import mod``
    counts as importing ``pkg.mod`` alone when ``pkg.mod`` is one of the ``known`` modules)."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = {f"{base}.{alias.name}" for alias in node.names}
            out.update(names)
            if not names <= known:
                out.add(base)
    return out


def test_no_module_is_longer_than_400_lines() -> None:
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in modules().values()}
    long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert not long, long


def test_only_the_store_touches_redis() -> None:
    """`import redis` and key-name literals live in keys.py and the store package (and the Lua scripts) alone."""
    offenders = []
    key_literal = re.compile(r"""(?<!["'])f?["'](job:|imgqueue:)""")
    for name, path in modules().items():
        if path in DOOR:
            continue
        if name not in REDIS_CLIENTS and any(i == "redis" or i.startswith("redis.") for i in imports_of(path, name)):
            offenders.append(f"{name} imports redis")
        if key_literal.search(path.read_text()):
            offenders.append(f"{name} spells a Redis key")
    assert not offenders, offenders


def _status_literals(path: Path) -> list[int]:
    """Lines where a status is compared with, or listed as, a string literal."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
        elif isinstance(node, (ast.Set, ast.Tuple, ast.List)):
            parts = list(node.elts)
        else:
            continue
        if any(isinstance(p, ast.Constant) and p.value in STATUS_WORDS for p in parts):
            lines.append(node.lineno)
    return lines


def test_statuses_are_spelled_once() -> None:
    """status.py defines them; the Lua scripts get them as S.* (store/scripts.py), the client and the dashboard
    from generated files; no code compares with or lists a status spelled out."""
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in modules().values() if p not in VOCABULARY
                 for line in _status_literals(p)]
    words = "|".join(STATUS_WORDS)
    quoted = re.compile(rf"""["']({words})["']""")
    for script in (PACKAGES["imgqueue"] / "lua").glob("*.lua"):
        offenders += [f"{script.relative_to(ROOT)}: {m.group(0)}" for m in quoted.finditer(script.read_text())]
    compared = re.compile(rf"""(===|!==)\s*["']({words})["']""")
    for js in (PACKAGES["imgqueue_api"] / "static").glob("*.js"):
        if js.name != "statuses.js":
            offenders += [f"{js.relative_to(ROOT)}: {m.group(0)}" for m in compared.finditer(js.read_text())]
    assert not offenders, offenders


def test_no_import_cycles() -> None:
    mods = modules()
    known = frozenset(mods)
    graph = {name: {i for i in imports_of(path, name, known) if i in mods and i != name} for name, path in mods.items()}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(nxt):], nxt]))
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name, [name])


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_job_model_and_spec_do_not_load_pillow() -> None:
    assert "PIL" not in loaded_after("import imgqueue.job, imgqueue.spec, imgqueue.store")


def test_core_knows_nothing_of_http_nor_of_gevent() -> None:
    loaded = loaded_after("import imgqueue.store, imgqueue.imaging, imgqueue.storage, imgqueue.spec, imgqueue.logs")
    assert not loaded & {"flask", "werkzeug", "requests", "gunicorn", "gevent"}, loaded
    core = PACKAGES["imgqueue"]
    assert not [p.name for p in core.rglob("*.py") if "gevent" in p.read_text()], "the core never names gevent"


def test_a_worker_loads_no_api() -> None:
    loaded = loaded_after("import imgqueue_worker.__main__")
    assert not loaded & {"flask", "imgqueue_api", "gunicorn"}, loaded


def test_tester_is_only_an_http_client() -> None:
    loaded = loaded_after("import imgqueue_tester.cli")
    assert not loaded & {"redis", "imgqueue", "imgqueue_api", "imgqueue_worker"}, loaded
