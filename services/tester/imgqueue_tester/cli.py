"""``imgqueue-tester``: upload a folder of images, follow every job to the end, print a table.

Exit code: 0 when every job is ``done`` (with ``--allow-failures``: when every job reached a terminal
status); 1 when a job failed or an upload was refused; 2 when the deadline passed first; 3 when the
API never became ready.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from imgqueue_client import Client
from imgqueue_client.statuses import DONE

from .follow import EventFollower, Tracked, poll, upload
from .hooks import HookReceiver
from .samples import generate
from .view import LiveView, report

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".bmp", ".tif", ".tiff"}
RESYNC_EVERY = 10.0  # seconds between full reads while following live (a cheap safety net)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="imgqueue-tester", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api", default="http://127.0.0.1:8000", help="API base URL (default %(default)s)")
    p.add_argument("--token", default=os.environ.get("IMGQUEUE_TOKEN"),
                   help="API token, with AUTH_MODE=token (default: $IMGQUEUE_TOKEN)")
    p.add_argument("--images", type=Path, help="folder of images to upload (default: generate --generate images)")
    p.add_argument("--generate", type=int, default=30, help="images to generate when --images is not given")
    p.add_argument("--clear-output", type=Path, help="empty this output folder before starting")
    p.add_argument("--width", default="300")
    p.add_argument("--height", default="300")
    p.add_argument("--fit", default=None)
    p.add_argument("--format", default=None)
    p.add_argument("--variants", default=None,
                   help='a set of outputs per image, as JSON: [{"name": "w320", "width": 320}, ...]')
    p.add_argument("--preset", default=None, help="a set of outputs per image, by the name of an API preset")
    p.add_argument("--placeholder", choices=("blurhash", "thumbhash"), default=None)
    p.add_argument("--priority", choices=("high", "normal", "low"), default=None, help="every job's priority")
    p.add_argument("--delay", type=float, default=None, help="seconds every job waits before it runs")
    p.add_argument("--concurrency", type=int, default=8, help="uploads in flight at once")
    p.add_argument("--timeout", type=float, default=300.0, help="deadline for the whole run, in seconds")
    p.add_argument("--poll-interval", type=float, default=0.5)
    p.add_argument("--allow-failures", action="store_true", help="exit 0 if every job ended, done or failed")
    p.add_argument("--poll", action="store_true", help="poll job records instead of following /events")
    p.add_argument("--raw", action="store_true", help="send each image as the whole body (PUT /upload, the options "
                   "in the query string) instead of a multipart form")
    p.add_argument("--callback", action="store_true", help="receive every job's webhook (a built-in receiver) and "
                   "wait for them all; the API needs WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE for it")
    p.add_argument("--callback-host", default="127.0.0.1", help="where the receiver listens, as the API's "
                   "workers reach it (default %(default)s)")
    p.add_argument("--webhook-secret", default=os.environ.get("WEBHOOK_SECRET"),
                   help="verify each webhook with this secret (default: $WEBHOOK_SECRET)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    with tempfile.TemporaryDirectory(prefix="imgqueue-samples-") as tmp:
        if args.images:
            paths = find_images(args.images) if args.images.is_dir() else []
        else:
            paths = generate(Path(tmp), args.generate, max_side=1600)
        if not paths:
            print(f"no images found in {args.images}", file=sys.stderr)
            return 1
        if args.clear_output:
            clear_folder(args.clear_output)
        return run(args, paths, deadline)


def find_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def clear_folder(folder: Path) -> None:
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run(args: argparse.Namespace, paths: list[Path], deadline: float) -> int:
    if not args.callback:
        return _run(args, paths, deadline, None)
    with HookReceiver(args.callback_host, args.webhook_secret) as hooks:
        code = _run(args, paths, deadline, hooks)
        return code or _webhooks_arrived(hooks, paths, deadline)


def _webhooks_arrived(hooks: HookReceiver, paths: list[Path], deadline: float) -> int:
    missing = hooks.wait_for(set(hooks.expected), deadline)
    print(f"webhooks: {len(hooks.seen)} of {len(hooks.expected)} jobs told ({hooks.repeats} repeats, "
          f"{hooks.unverified} refused)", file=sys.stdout)
    return 1 if missing or hooks.unverified else 0


def _run(args: argparse.Namespace, paths: list[Path], deadline: float, hooks: HookReceiver | None) -> int:
    client = _client(args)
    if not client.wait_ready(max(0.0, deadline - time.monotonic())):
        print(f"the API at {client.url} did not become ready before the deadline", file=sys.stderr)
        return 3
    items = [Tracked(p) for p in paths]
    view = LiveView(len(items), sys.stderr)
    follower = None if args.poll else _start_following(client)
    t0 = time.monotonic()
    upload_all(client, items, args, view, t0, hooks.url if hooks else None)
    if hooks:
        hooks.expected = [i.job_id for i in items if i.job_id]
    live = follower is not None and not follower.failed
    print("following jobs " + ("live (server-sent events)" if live else "by polling"), file=sys.stderr)
    try:
        follow_until_done(client, items, follower, view, t0, deadline, args.poll_interval)
    finally:
        if follower is not None:
            follower.close()
    elapsed = time.monotonic() - t0
    view.show(items, elapsed, final=True)
    report(items, elapsed, sys.stdout)
    return exit_code(items, args.allow_failures)


def _client(args: argparse.Namespace) -> Client:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=max(10, args.concurrency)))
    return Client(args.api, token=args.token, timeout=60, session=session)


def _start_following(client: Client) -> EventFollower:
    """Subscribe before the uploads, so that no transition is missed."""
    follower = EventFollower(client)
    follower.start()
    follower.connected.wait(10)
    return follower


def upload_all(client: Client, items: list[Tracked], args: argparse.Namespace, view: LiveView, t0: float,
               callback: str | None = None) -> None:
    sized = {} if args.preset else {"width": args.width, "height": args.height}  # a preset says every size
    form = {k: v for k, v in {**sized, "fit": args.fit, "format": args.format, "priority": args.priority,
                              "delay": args.delay, "variants": args.variants, "preset": args.preset,
                              "placeholder": args.placeholder, "callback_url": callback, "raw": args.raw}.items() if v}
    print(f"uploading {len(items)} images to {client.url} ({args.concurrency} at a time)", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = [pool.submit(upload, client, item, form) for item in items]
        while not all(f.done() for f in futures):
            view.show(items, time.monotonic() - t0)
            time.sleep(0.2)


def follow_until_done(client: Client, items: list[Tracked], follower: EventFollower | None, view: LiveView,
                      t0: float, deadline: float, poll_interval: float) -> None:
    """Until every job ended or the deadline: statuses from the stream (records of those that end), or
    from polling when there is no stream."""
    poll(client, items)  # one full read: the starting point, whatever the stream said so far
    last_sync = time.monotonic()
    while time.monotonic() < deadline and not all(i.ended for i in items):
        live = follower is not None and not follower.failed
        if live and follower is not None:
            finished = follower.apply(items)
            if finished:
                poll(client, finished, refresh=True)  # sizes, ms and reasons of those that ended
            if time.monotonic() - last_sync > RESYNC_EVERY:
                poll(client, items)
                last_sync = time.monotonic()
        else:
            poll(client, items)
        view.show(items, time.monotonic() - t0)
        time.sleep(0.1 if live else poll_interval)


def exit_code(items: list[Tracked], allow_failures: bool) -> int:
    if not all(i.ended for i in items):
        print("deadline passed before every job finished", file=sys.stderr)
        return 2
    return 0 if allow_failures or all(i.status == DONE for i in items) else 1
