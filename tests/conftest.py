"""Fixtures: a real redis-server started once per session on a free port (or, where none is on PATH,
a Redis container through testcontainers), settings pointing at temp folders, and the stack's processes
through the development harness (imgqueue_dev)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from imgqueue.job import Job, new_job_id, output_key
from imgqueue.spec import ResizeSpec
from imgqueue.store import Store
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack, start_redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-server"):
        log = (tmp_path_factory.mktemp("redis") / "redis.log").open("wb")
        proc, url = start_redis(workdir=tmp_path_factory.mktemp("redis-data"), log=log)
        try:
            yield url
        finally:
            proc.stop()
        return
    from testcontainers.redis import RedisContainer  # only for machines with Docker and no redis-server

    image = os.environ.get("REDIS_IMAGE", "redis:7-alpine")
    with RedisContainer(image).with_command("redis-server --protected-mode no --save ''") as container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
        yield f"redis://{host}:{port}/0"


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> StackSettings:
    """Every service's settings, with fast timings so that recovery and retries happen within a second or two."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return StackSettings(
        redis_url=redis_url,
        queue_name=f"test_{uuid.uuid4().hex[:8]}",
        upload_dir=tmp_path / "uploads",
        output_dir=tmp_path / "output",
        heartbeat_interval=0.2,
        heartbeat_ttl=1.0,
        recovery_interval=0.2,
        retry_backoff_base=0.05,
        retry_backoff_max=0.5,
        job_time_limit=20.0,
        shutdown_timeout=15.0,
        worker_concurrency=1,
        upload_rate_limit=0,  # tests upload far faster than any client should; the limit has its own tests
        webhook_dispatchers=0,  # the webhook tests turn them on (a process less per worker start elsewhere)
        log_level="INFO",
    )


@pytest.fixture
def store(settings: StackSettings) -> Iterator[Store]:
    s = Store.from_settings(settings)
    yield s
    s.close()


@pytest.fixture
def make_job(settings: StackSettings) -> Callable[..., Job]:
    """Build a Job whose input is a file we write (or one we put in the upload folder, e.g. a FIFO)."""
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    settings.output_dir.mkdir(parents=True, exist_ok=True)

    def make(data: bytes | None = None, input_path: Path | None = None, spec: ResizeSpec | None = None,
             ext: str = "jpg") -> Job:
        job_id = new_job_id()
        path = input_path or settings.upload_dir / f"{job_id}.{ext}"
        if data is not None:
            path.write_bytes(data)
        key = "uploads/" + path.relative_to(settings.upload_dir).as_posix()
        return Job(id=job_id, spec=spec or ResizeSpec(120, 80), input_key=key, output_key=output_key(job_id, "jpg"),
                   input_format="jpeg")

    return make


@pytest.fixture
def local(settings: StackSettings, tmp_path: Path) -> Iterator[LocalStack]:
    """The stack's processes, started by the test as it needs them (workers, API); all stopped after."""
    stack = LocalStack(settings, tmp_path / "logs")
    yield stack
    stack.stop()


@pytest.fixture
def api_server(local: LocalStack) -> LocalStack:
    """The API under real gunicorn (gevent workers) on a free port."""
    local.start_api()
    return local


@pytest.fixture
def stack(api_server: LocalStack) -> LocalStack:
    """gunicorn plus a worker supervisor with two processes, both registered (starting a process can take
    seconds on a loaded machine: a test that wants both to work must not start before they are there)."""
    api_server.start_workers(2)
    api_server.wait_workers(2)
    return api_server
