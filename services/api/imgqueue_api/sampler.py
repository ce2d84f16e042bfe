"""Each API process offers, every HISTORY_INTERVAL, to take the fleet's sample of the counters for the
dashboard's charts. It is a claimed chore, so one process of the whole fleet (API and workers) takes each
sample: the charts go on while no worker runs, which is when an operator needs them most."""

from __future__ import annotations

import logging
import threading
import time

from imgqueue.config import Settings
from imgqueue.store import FAILURE, Store

log = logging.getLogger(__name__)


def start(settings: Settings) -> None:
    """This process's sampler: a daemon thread (a greenlet under gevent), for as long as the process lives."""
    threading.Thread(target=_run, args=(settings,), name="history-sampler", daemon=True).start()


def _run(settings: Settings) -> None:
    store = Store.from_settings(settings)
    while True:
        time.sleep(settings.history_interval)  # the workers take one as they start
        try:
            store.sample_history()
        except FAILURE as exc:  # Redis down or full: the next interval tries again
            log.warning("history sample skipped: %s", exc)
