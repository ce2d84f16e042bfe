"""The whole compose stack through the development harness (imgqueue_dev.compose): one fresh project
(own containers, own volumes, own API port) per test, torn down with its volumes even when it fails.

Needs the images built first (``make integration-test`` runs ``make build``, which also writes the
base-image choice into .env)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from imgqueue_dev.compose import ComposeStack, compose_project

ROOT = Path(__file__).resolve().parents[2]

# Fast failure detection so that chaos tests finish in seconds, not minutes.
FAST = {
    "HEARTBEAT_INTERVAL": "1",
    "HEARTBEAT_TTL": "3",
    "RECOVERY_INTERVAL": "1",
    "SHUTDOWN_TIMEOUT": "20",
    "WORKER_STOP_GRACE": "25s",
    "WORKER_CONCURRENCY": "1",
    "RETRY_BACKOFF_BASE": "0.2",
    "LOG_LEVEL": "INFO",
}


@pytest.fixture
def make_stack(tmp_path: Path) -> Callable[..., AbstractContextManager[ComposeStack]]:
    """``with make_stack(workers=3, **settings) as stack:`` starts a fresh project and waits until healthy."""

    def start(workers: int = 3, **settings: str) -> AbstractContextManager[ComposeStack]:
        return compose_project(ROOT, tmp_path, workers, **{**FAST, **settings})

    return start


@pytest.fixture(scope="session", autouse=True)
def images_built() -> Iterator[None]:
    if "PYTHON_IMAGE=" not in ((ROOT / ".env").read_text() if (ROOT / ".env").exists() else ""):
        pytest.fail(".env names no base images: run `make build` (make integration-test does) first")
    yield
