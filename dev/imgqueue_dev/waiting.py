"""The one way dev/ and the tests wait: every wait has a deadline and says what it waited for.

``wait_until(check, timeout, what)`` polls ``check`` until it returns something truthy and returns it;
``Deadline(timeout, what)`` is for loops that do work until their time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError, AssertionError):
    """A wait ran out of time (an AssertionError too, so a test that waits fails rather than errors)."""


class Deadline:
    def __init__(self, timeout: float, what: str) -> None:
        self.timeout, self.what = timeout, what
        self.at = time.monotonic() + timeout

    def left(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - time.monotonic())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def fail(self, detail: str = "") -> WaitTimeout:
        """The error to raise when the deadline passed with the work unfinished."""
        return WaitTimeout(f"timed out after {self.timeout:.0f} s waiting for {self.what}{detail}")


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05,
               ignoring: tuple[type[BaseException], ...] = ()) -> T:
    """Call ``check()`` until it returns something truthy and return that; WaitTimeout naming ``what`` at the
    deadline. Errors of the ``ignoring`` kinds count as not yet."""
    deadline = Deadline(timeout, what)
    while True:
        try:
            value = check()
            if value:
                return value
        except ignoring:
            pass
        if deadline.passed:
            raise deadline.fail()
        time.sleep(min(interval, deadline.left()) or interval)
