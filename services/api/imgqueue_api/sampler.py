"""Each API process offers, every HISTORY_INTERVAL, to take the fleet's sample of the counters for the
dashboard's charts. It is a claimed chore, so one process of the whole fleet (API and workers) takes each
sample: the charts go on while no worker runs, which is when an operator needs them most."""

from __future__ import annotations

import logging
import threading

from imgqueue.config import Settings
from imgqueue.store import FAILURE, Store

log = logging.getLogger(__name__)


def start(settings: Settings) -> threading.Event:
    """Start this process's sampler (a daemon thread, a greenlet under gevent); set the event to stop it."""
    stopping = threading.Event()
    threading.Thread(target=_run, args=(settings, stopping), name="history-sampler", daemon=True).start()
    return stopping


def _run(settings: Settings, stopping: threading.Event) -> None:
    store = Store.from_settings(settings)
    try:
        while not stopping.wait(settings.history_interval):  # the workers take one as they start
            try:
                store.sample_history()
            except FAILURE as exc:  # Redis down or full: the next interval tries again
                log.warning("history sample skipped: %s", exc)
    finally:
        store.close()
