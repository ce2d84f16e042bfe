"""Every setting of every service in one class, for the harness that runs them all (``make dev``, the tests,
the benchmarks): a ``StackSettings`` is an ``ApiSettings`` and a ``WorkerSettings`` at once, and its
``to_env()`` hands each child process what it reads."""

from __future__ import annotations

from dataclasses import dataclass

from imgqueue_api.settings import ApiSettings
from imgqueue_worker.settings import WorkerSettings


@dataclass(frozen=True)
class StackSettings(ApiSettings, WorkerSettings):
    pass
