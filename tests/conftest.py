"""Fixtures: a real redis-server started once per session on a free port (or, where none is on PATH,
a Redis container through testcontainers), settings pointing at temp folders, and worker processes."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from helpers import ApiServer, Stack, WorkerPool
from imgqueue.config import Settings
from imgqueue.imaging import ResizeSpec
from imgqueue.job import Job, new_job_id
from imgqueue.local import free_port, start_api, start_redis, start_workers
from imgqueue.queue import Queue, connect


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("redis-server"):
        log = (tmp_path_factory.mktemp("redis") / "redis.log").open("wb")
        proc, url = start_redis(workdir=tmp_path_factory.mktemp("redis-data"), log=log)
        try:
            yield url
        finally:
            proc.stop()
            log.close()
        return
    from testcontainers.redis import RedisContainer  # only for machines with Docker and no redis-server

    image = os.environ.get("REDIS_IMAGE", "redis:7-alpine")
    with RedisContainer(image).with_command("redis-server --protected-mode no --save ''") as container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
        yield f"redis://{host}:{port}/0"


@pytest.fixture
def settings(redis_url: str, tmp_path: Path) -> Settings:
    """Fast timings so that recovery and retries happen within a second or two."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return Settings(
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
        log_level="INFO",
    )


@pytest.fixture
def queue(settings: Settings) -> Iterator[Queue]:
    client = connect(settings)
    yield Queue(client, settings)
    client.close()


@pytest.fixture
def make_job(settings: Settings) -> Callable[..., Job]:
    """Build a Job whose input is a file we write (or a path we choose, e.g. a FIFO)."""
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    settings.output_dir.mkdir(parents=True, exist_ok=True)

    def make(data: bytes | None = None, input_path: Path | None = None, spec: ResizeSpec | None = None,
             ext: str = "jpg") -> Job:
        job_id = new_job_id()
        path = input_path or settings.upload_dir / f"{job_id}.{ext}"
        if data is not None:
            path.write_bytes(data)
        return Job(id=job_id, spec=spec or ResizeSpec(120, 80), input_path=str(path),
                   output_path=str(settings.output_dir / f"{job_id}.jpg"), input_format="jpeg")

    return make


@pytest.fixture
def api_server(settings: Settings, tmp_path: Path) -> Iterator[ApiServer]:
    """The API under real gunicorn (gevent workers) on a free port."""
    port = free_port()
    log = (tmp_path / "api.log").open("wb")
    proc = start_api({**os.environ, **settings.to_env()}, port, workers=2, log=log)
    try:
        yield ApiServer(f"http://127.0.0.1:{port}", settings, proc)
    finally:
        proc.stop()
        log.close()


@pytest.fixture
def stack(api_server: ApiServer, tmp_path: Path) -> Iterator[Stack]:
    """gunicorn plus a worker supervisor with two processes."""
    log = (tmp_path / "workers.log").open("wb")
    workers = start_workers({**os.environ, **api_server.settings.to_env()}, 2, log=log)
    try:
        yield Stack(api_server.url, api_server.settings, api_server.api, workers)
    finally:
        workers.stop()
        log.close()


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(settings, tmp_path)
    yield pool
    pool.stop_all()


