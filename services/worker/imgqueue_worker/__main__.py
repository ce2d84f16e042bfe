"""``imgqueue-worker``: start the worker processes (and the webhook dispatchers), run one webhook
dispatcher alone (``dispatch``), or check that this host's workers are alive."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import time

from imgqueue import vips
from imgqueue.errors import ConfigError
from imgqueue.logs import setup_logging
from imgqueue.store import UNAVAILABLE, Store

from .dispatcher import Dispatcher
from .settings import WorkerSettings
from .supervisor import Supervisor

log = logging.getLogger("imgqueue_worker")


def healthcheck(settings: WorkerSettings) -> int:
    """Exit 0 when at least one worker on this host has a fresh heartbeat."""
    host = socket.gethostname()
    try:
        workers = Store.from_settings(settings).workers.all()
    except UNAVAILABLE as exc:
        print(f"unhealthy: redis unavailable: {exc}")
        return 1
    mine = [w for w in workers if w.get("host") == host]
    fresh = [w for w in mine if w["alive"]
             and time.time() - float(w.get("last_heartbeat") or 0) < settings.heartbeat_ttl]
    if fresh:
        print(f"healthy: {len(fresh)} worker processes on {host}")
        return 0
    print(f"unhealthy: no worker on {host} has a fresh heartbeat ({len(mine)} registered)")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imgqueue-worker", description=__doc__)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "dispatch", "healthcheck"])
    parser.add_argument("-c", "--concurrency", type=int, default=None,
                        help="worker processes (default WORKER_CONCURRENCY, or the CPU count)")
    args = parser.parse_args(argv)
    try:
        settings = WorkerSettings.from_env()
    except ConfigError as exc:
        print(f"imgqueue-worker: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "healthcheck":
        return healthcheck(settings)
    if args.command == "dispatch":
        setup_logging(settings.log_level, fmt=settings.log_format)
        dispatcher = Dispatcher(settings)
        dispatcher.install_signal_handlers()
        dispatcher.run()
        return 0
    if settings.imaging_engine == "vips" and not vips.available():
        print(f"imgqueue-worker: IMAGING_ENGINE=vips needs pyvips and libvips {'.'.join(map(str, vips.MIN_VERSION))}+ "
              "(pip install 'imgqueue[vips]')", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, fmt=settings.log_format)
    log.info("imaging engine=%s libvips=%s", settings.imaging_engine, vips.version() or "none")
    return Supervisor(settings, args.concurrency).run()


if __name__ == "__main__":
    sys.exit(main())
