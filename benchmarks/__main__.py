"""``python -m benchmarks [--quick] [--parts resize,queue,e2e,api,memory,housekeeping,fair]``: run the
benchmarks, print a table, write results/bench-<time>.json, results/latest.json and results/bench.png.

Photos: the folder in BENCH_PHOTOS (e.g. ../shared/corpus/photos) or a generated set. Ratios are measured
side by side in one run (the machine is shared and noisy); absolute numbers are for this machine only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import queue
import sys
import time
from pathlib import Path
from typing import Any

from imgqueue import vips
from imgqueue_dev.waiting import Deadline

from . import api_accept, end_to_end, fair_share, housekeeping, memory, queue_overhead, resize, sharp, srcset
from .common import load_photos

RESULTS = Path(__file__).resolve().parents[1] / "results"
PARTS = ("resize", "queue", "e2e", "api", "memory", "housekeeping", "fair")


def environment() -> dict[str, Any]:
    import PIL

    env: dict[str, Any] = {"python": platform.python_version(), "pillow": PIL.__version__,
                           "cpus": os.cpu_count(), "machine": platform.machine(), "system": platform.platform()}
    try:
        with open("/proc/cpuinfo") as fh:
            env["cpu"] = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    except OSError:
        env["cpu"] = platform.processor() or "?"
    env["libvips"] = vips.version()
    try:
        import rq

        env["rq"] = rq.__version__
    except ImportError:
        env["rq"] = None
    return env


def run_resize(quick: bool, rounds: int) -> dict[str, Any]:
    """Part 1 in a child process, so that pinning it to one core does not pin the rest."""
    try:
        sharp.install()  # here, not in the pinned child: npm on one core is slow
    except sharp.Unavailable as exc:
        print(f"sharp is left out: {exc}", file=sys.stderr)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=resize.run_in_child, args=(quick, rounds, out))
    child.start()
    deadline = Deadline(1800, "the resize benchmark")
    while not deadline.passed:
        try:
            result: dict[str, Any] = out.get(timeout=1)
            child.join(60)
            return result
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the resize benchmark process died (exit code {child.exitcode})") from None
    child.kill()
    raise deadline.fail()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks the code (under a minute)")
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    quick = args.quick
    photos, source = load_photos(quick)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": quick,
                              "photos": {"source": source, "count": len(photos),
                                         "by_format": {f: sum(1 for p in photos if p.format == f)
                                                       for f in ("JPEG", "PNG", "WEBP")}},
                              "environment": environment()}
    t0 = time.time()
    if "resize" in parts:
        print("part 1: resize throughput on one core ...", file=sys.stderr)
        report["resize"] = run_resize(quick, rounds=1 if quick else 3)
    if "queue" in parts:
        print("part 2: queue overhead ...", file=sys.stderr)
        report["queue"] = queue_overhead.run(300 if quick else 5000, 50 if quick else 1000, 1 if quick else 3)
    if "e2e" in parts:
        print("part 3: end to end ...", file=sys.stderr)
        report["e2e"] = end_to_end.run(photos, 1 if quick else 3, 1 if quick else 3, layouts=not quick)
        report["e2e"]["storage"] = end_to_end.storage(photos, 1 if quick else 2, 1 if quick else 3)
        report["e2e"]["srcset"] = srcset.through_the_api(photos, 1 if quick else 3)
    if "api" in parts:
        print("part 4: API acceptance ...", file=sys.stderr)
        report["api"] = api_accept.run(16 if quick else 320, (1, 8) if quick else (1, 8, 32), 1 if quick else 3)
    if "memory" in parts:
        print("part 5: memory ...", file=sys.stderr)
        report["memory"] = memory.run(photos, 10 if quick else 500)
    if "housekeeping" in parts:
        print("part 6: housekeeping ...", file=sys.stderr)
        report["housekeeping"] = housekeeping.run((2,) if quick else (2, 20, 100), 2 if quick else 30)
    if "fair" in parts:
        print("part 7: fair share between tenants ...", file=sys.stderr)
        report["fair"] = fair_share.run(quick)
    report["seconds"] = time.time() - t0
    from .report import chart, table

    text = table(report)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = "quick" if quick else "bench"
    (RESULTS / f"{name}-{stamp}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{name}-latest.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{name}-latest.md").write_text(text)
    png = chart(report, RESULTS / f"{name}-latest.png")
    print(f"\nwrote {RESULTS}/{name}-{stamp}.json, {name}-latest.json, {name}-latest.md"
          + (f", {png.name}" if png else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
