"""``make dev``: a private redis-server, the API (gunicorn) and a worker supervisor, in the foreground;
Ctrl-C stops everything.

    python -m imgqueue_dev [--workers N] [--api-port 8000] [--redis-port 0] [--data data]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from .stack import private_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m imgqueue_dev", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", os.cpu_count() or 1)))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", "8000")))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", "0")),
                        help="0: a free port")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DATA_DIR", "data")))
    args = parser.parse_args(argv)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with private_stack(args.data, args.redis_port) as stack:
        stack.start_api(args.api_port)
        stack.start_workers(args.workers)
        print(f"imgqueue is running: API {stack.url}  redis {stack.settings.redis_url}  {args.workers} workers  "
              f"outputs {stack.settings.output_dir}  (Ctrl-C stops everything)", flush=True)
        procs = [p for p in (stack.api, *stack.workers, *stack.others) if p is not None]
        while not stop and all(p.alive() for p in procs):
            time.sleep(0.5)
        for p in procs:
            if not p.alive() and not stop:
                print(f"{p.name} exited with code {p.popen.returncode if p.popen else '?'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
