"""What the API does because gunicorn runs it on gevent (API_WORKER_CLASS=gevent, the default): every
request is a greenlet on one event loop per process, so work that blocks in C (decoding an upload's
header) goes to a real thread, a slow body is bounded by a gevent timeout, and the log handler's lock is
an OS-level one (a gevent lock taken from one of those threads can hang). Under any other worker class
each helper does the plain thing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

T = TypeVar("T")


def active() -> bool:
    """Whether this process runs on gevent (its monkey-patching of the socket module is the sign)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("socket"))


def native_rlock() -> Any:
    """A re-entrant lock of the operating system, even where gevent patched ``threading``."""
    if active():
        from gevent import monkey

        return monkey.get_original("threading", "RLock")()
    return threading.RLock()


def offload(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in a real thread when requests are greenlets, so that a call blocking in C cannot stall
    the event loop that answers every other request of this process."""
    if not active():
        return fn(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(fn, args)  # type: ignore[no-any-return]


def deadline(seconds: float, error: BaseException) -> AbstractContextManager[Any]:
    """Raise ``error`` in this greenlet if the block lasts more than ``seconds`` (a no-op off gevent,
    where reads are not cooperative)."""
    if not active():
        return nullcontext()
    import gevent

    return gevent.Timeout(seconds, error)  # type: ignore[no-any-return]
