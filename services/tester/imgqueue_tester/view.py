"""What the tester prints: a live progress line while jobs run, a table when they have ended."""

from __future__ import annotations

import time
from collections import Counter
from typing import IO

from imgqueue_client.statuses import DONE, FAILED, QUEUED, STATUSES

from .follow import Tracked

_ORDER = ("uploading", *STATUSES)
_ALWAYS = frozenset({QUEUED, DONE, FAILED})
BAR = 30


class LiveView:
    def __init__(self, total: int, out: IO[str]) -> None:
        self.total, self.out = total, out
        self.tty = out.isatty()
        self.last = 0.0

    def show(self, items: list[Tracked], elapsed: float, final: bool = False) -> None:
        now = time.monotonic()
        if not final and not self.tty and now - self.last < 2.0:
            return
        self.last = now
        line = f"{progress_line(items, self.total)} {elapsed:.1f}s"
        if self.tty:
            self.out.write("\r\033[K" + line + ("\n" if final else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


def progress_line(items: list[Tracked], total: int) -> str:
    counts = Counter(i.status for i in items)
    finished = sum(1 for i in items if i.ended)
    filled = int(BAR * finished / max(1, total))
    text = " ".join(f"{s}={counts[s]}" for s in _ORDER if counts[s] or s in _ALWAYS)
    return f"[{'#' * filled}{'-' * (BAR - filled)}] {finished}/{total} {text}"


def report(items: list[Tracked], elapsed: float, out: IO[str]) -> None:
    rows = [("file", "status", "ms", "output", "detail")] + [_row(i) for i in items]
    widths = [max(len(row[c]) for row in rows) for c in range(5)]
    for n, row in enumerate(rows):
        out.write("  ".join(v.ljust(widths[c]) for c, v in enumerate(row)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    done = sum(1 for i in items if i.status == DONE)
    failed = sum(1 for i in items if i.status == FAILED)
    rate = done / elapsed if elapsed > 0 else 0.0
    out.write(f"\n{len(items)} images: {done} done, {failed} failed, {len(items) - done - failed} unfinished "
              f"in {elapsed:.2f} s ({rate:.2f} images/s)\n")


def _row(item: Tracked) -> tuple[str, str, str, str, str]:
    r = item.record
    ms = f"{r['duration_ms']:.0f}" if r.get("duration_ms") else "-"
    if item.status != DONE or not r:
        output = "-"
    elif r.get("variants"):
        output = " ".join(f"{v['name']}:{v['width']}x{v['height']}" for v in r["variants"])
    else:
        output = f"{r['output_width']}x{r['output_height']} {r['output_format']} {r['output_bytes']}B"
    return item.path.name, item.status, ms, output, item.error[:70]
