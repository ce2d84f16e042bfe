"""``imgqueue-tester``: upload a folder of images, follow every job to the end, print a table.

Exit code: 0 when every job is ``done`` (with ``--allow-failures``: when every job reached a terminal
status); 1 when a job failed or an upload was refused; 2 when the deadline passed first; 3 when the
API never became ready.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".bmp", ".tif", ".tiff"}
TERMINAL = {"done", "failed"}
STATUSES = ["queued", "processing", "retrying", "done", "failed"]


@dataclass
class Tracked:
    path: Path
    job_id: str = ""
    status: str = "uploading"
    error: str = ""
    uploaded_at: float = 0.0
    finished_at: float = 0.0
    record: dict[str, Any] | None = None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="imgqueue-tester", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api", default="http://127.0.0.1:8000", help="API base URL (default %(default)s)")
    p.add_argument("--images", type=Path, help="folder of images to upload (default: generate --generate images)")
    p.add_argument("--generate", type=int, default=30, help="images to generate when --images is not given")
    p.add_argument("--clear-output", type=Path, help="empty this output folder before starting")
    p.add_argument("--width", default="300")
    p.add_argument("--height", default="300")
    p.add_argument("--fit", default=None)
    p.add_argument("--format", default=None)
    p.add_argument("--concurrency", type=int, default=8, help="uploads in flight at once")
    p.add_argument("--timeout", type=float, default=300.0, help="deadline for the whole run, in seconds")
    p.add_argument("--poll-interval", type=float, default=0.5)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 if every job ended, done or failed")
    p.add_argument("--poll", action="store_true", help="poll job records instead of following /events")
    return p.parse_args(argv)


def wait_ready(session: requests.Session, api: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            if session.get(f"{api}/readyz", timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def upload(session: requests.Session, api: str, item: Tracked, form: dict[str, str]) -> None:
    try:
        with item.path.open("rb") as fh:
            resp = session.post(f"{api}/upload", files={"image": (item.path.name, fh)}, data=form, timeout=60)
        body = resp.json()
    except (requests.RequestException, ValueError) as exc:
        item.status, item.error = "failed", f"upload error: {exc}"
        return
    item.uploaded_at = time.monotonic()
    if resp.status_code == 202:
        item.job_id, item.status = body["jobId"], body["status"]
    else:
        item.status = "failed"
        err = body.get("error", {})
        item.error = f"HTTP {resp.status_code} {err.get('code')}: {err.get('message')}"


class EventFollower(threading.Thread):
    """Follows ``GET /events`` (server-sent events) in the background and keeps the newest status of
    every job it hears about. ``failed`` turns true when the stream cannot be had or breaks: the
    caller then polls instead."""

    def __init__(self, api: str) -> None:
        super().__init__(name="events", daemon=True)
        self.url = f"{api}/events?summary=0"
        self.latest: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.failed = False
        self._closing = False

    def run(self) -> None:
        try:
            with requests.get(self.url, stream=True, timeout=(5, 40)) as resp:
                if resp.status_code != 200 or not resp.headers.get("content-type", "").startswith("text/event-stream"):
                    raise requests.RequestException(f"HTTP {resp.status_code}")
                self.connected.set()
                event, data = "", ""
                for line in resp.iter_lines(decode_unicode=True):
                    if line:
                        if line.startswith("event:"):
                            event = line[6:].strip()
                        elif line.startswith("data:"):
                            data += line[5:].strip()
                        continue
                    if event == "job" and data:
                        self._record(json.loads(data))
                    elif event in ("overflow", "resync", "stop"):
                        raise requests.RequestException(f"stream ended: {event}")
                    event, data = "", ""
        except (requests.RequestException, ValueError, AttributeError) as exc:
            if not self._closing:
                print(f"live events unavailable ({exc}); polling instead", file=sys.stderr)
        finally:
            self.failed = True
            self.connected.set()

    def _record(self, event: dict[str, Any]) -> None:
        with self.lock:
            known = self.latest.get(event["id"])
            if known is None or float(event.get("ts", 0)) >= float(known.get("ts", 0)):
                self.latest[event["id"]] = event

    def apply(self, items: list[Tracked]) -> list[Tracked]:
        """Copy the streamed statuses onto ``items``; returns those that just reached the end."""
        finished = []
        with self.lock:
            for item in items:
                event = self.latest.get(item.job_id)
                if event and item.status not in TERMINAL:
                    item.status = event["status"]
                    if item.status in TERMINAL:
                        item.finished_at = time.monotonic()
                        finished.append(item)
        return finished

    def close(self) -> None:
        """Stop listening. The thread is a daemon blocked in a read: closing the response from here
        would wait for that read to time out, so it is left to end with the process."""
        self._closing = True


def poll(session: requests.Session, api: str, items: list[Tracked], refresh: bool = False) -> None:
    """Fetch the records of unfinished jobs (or, with ``refresh``, of those given) in batches of 100."""
    pending = items if refresh else [i for i in items if i.job_id and i.status not in TERMINAL]
    for start in range(0, len(pending), 100):
        chunk = {i.job_id: i for i in pending[start:start + 100]}
        try:
            resp = session.get(f"{api}/jobs", params={"ids": ",".join(chunk), "limit": "1000"}, timeout=10)
            jobs = resp.json()["jobs"] if resp.status_code == 200 else []
        except (requests.RequestException, ValueError, KeyError):
            continue
        for record in jobs:
            item = chunk[record["id"]]
            if item.status in TERMINAL and record["status"] not in TERMINAL:
                continue  # the stream already told us more than this (older) record
            item.status, item.record = record["status"], record
            if item.status in TERMINAL:
                item.finished_at = item.finished_at or time.monotonic()
                item.error = record.get("error") or ""


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
        counts = {s: 0 for s in ["uploading", *STATUSES]}
        for i in items:
            counts[i.status] = counts.get(i.status, 0) + 1
        finished = counts["done"] + counts["failed"]
        width = 30
        filled = int(width * finished / max(1, self.total))
        bar = "#" * filled + "-" * (width - filled)
        text = " ".join(f"{k}={v}" for k, v in counts.items() if v or k in ("queued", "done", "failed"))
        line = f"[{bar}] {finished}/{self.total} {text} {elapsed:.1f}s"
        if self.tty:
            self.out.write("\r\033[K" + line + ("\n" if final else ""))
        else:
            self.out.write(line + "\n")
        self.out.flush()


def report(items: list[Tracked], elapsed: float, out: IO[str]) -> None:
    rows = [("file", "status", "ms", "output", "detail")]
    for i in items:
        r = i.record or {}
        ms = f"{r.get('duration_ms', 0):.0f}" if r.get("duration_ms") else "-"
        output = f"{r['output_width']}x{r['output_height']} {r['output_format']} {r['output_bytes']}B" \
            if i.status == "done" and r else "-"
        rows.append((i.path.name, i.status, ms, output, i.error[:70]))
    widths = [max(len(str(row[c])) for row in rows) for c in range(5)]
    for n, row in enumerate(rows):
        out.write("  ".join(str(v).ljust(widths[c]) for c, v in enumerate(row)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    done = sum(1 for i in items if i.status == "done")
    failed = sum(1 for i in items if i.status == "failed")
    rate = done / elapsed if elapsed > 0 else 0.0
    out.write(f"\n{len(items)} images: {done} done, {failed} failed, {len(items) - done - failed} unfinished "
              f"in {elapsed:.2f} s ({rate:.2f} images/s)\n")


def find_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    api = args.api.rstrip("/")
    started = time.monotonic()
    deadline = started + args.timeout
    with tempfile.TemporaryDirectory(prefix="imgqueue-samples-") as tmp:
        if args.images:
            paths = find_images(args.images) if args.images.is_dir() else []
        else:
            from imgqueue.samples import generate

            paths = generate(Path(tmp), args.generate, max_side=1600)
        if not paths:
            print(f"no images found in {args.images}", file=sys.stderr)
            return 1
        if args.clear_output and args.clear_output.is_dir():
            for entry in args.clear_output.iterdir():
                if entry.is_file():
                    entry.unlink()
                elif entry.is_dir():
                    shutil.rmtree(entry)
        return run(args, api, paths, started, deadline)


def run(args: argparse.Namespace, api: str, paths: list[Path], started: float, deadline: float) -> int:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=max(10, args.concurrency)))
    if not wait_ready(session, api, deadline):
        print(f"the API at {api} did not become ready before the deadline", file=sys.stderr)
        return 3
    form = {k: v for k, v in {"width": args.width, "height": args.height, "fit": args.fit,
                              "format": args.format}.items() if v}
    items = [Tracked(p) for p in paths]
    view = LiveView(len(items), sys.stderr)
    follower = EventFollower(api)
    if not args.poll:
        follower.start()  # before the uploads, so that no transition is missed
        follower.connected.wait(10)
    print(f"uploading {len(items)} images to {api} ({args.concurrency} at a time)", file=sys.stderr)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = [pool.submit(upload, session, api, item, form) for item in items]
        while not all(f.done() for f in futures):
            view.show(items, time.monotonic() - t0)
            time.sleep(0.2)
    live = not args.poll and not follower.failed
    print("following jobs " + ("live (server-sent events)" if live else "by polling"), file=sys.stderr)
    poll(session, api, items)  # one full read: the starting point, whatever the stream said so far
    last_sync = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if live and not follower.failed:
                finished = follower.apply(items)
                if finished:
                    poll(session, api, finished, refresh=True)  # sizes, ms and reasons of those that ended
                if time.monotonic() - last_sync > 10:  # a cheap safety net
                    poll(session, api, items)
                    last_sync = time.monotonic()
            else:
                poll(session, api, items)
            view.show(items, time.monotonic() - t0)
            if all(i.status in TERMINAL for i in items):
                break
            time.sleep(0.1 if live and not follower.failed else args.poll_interval)
    finally:
        follower.close()
    elapsed = time.monotonic() - t0
    view.show(items, elapsed, final=True)
    report(items, elapsed, sys.stdout)
    if not all(i.status in TERMINAL for i in items):
        print("deadline passed before every job finished", file=sys.stderr)
        return 2
    if args.allow_failures or all(i.status == "done" for i in items):
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
