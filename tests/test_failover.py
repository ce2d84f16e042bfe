"""Redis that fails over, on loopback: a primary, two replicas and three sentinels. The API and the workers
find the primary through the sentinels and follow the new one after the old is killed. With
REDIS_MIN_REPLICAS=1 (Redis WAIT) no acknowledged job is lost; without it, the jobs acknowledged while the
replicas could not get them are lost with the primary: measured here both ways, with the replicas cut off
the primary (a network partition) before it is killed."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from helpers import image_bytes
from imgqueue_dev.sentinel import Failover, start_failover
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack
from imgqueue_dev.waiting import Deadline


@pytest.fixture
def failover(tmp_path: Path) -> Iterator[Failover]:
    topology = start_failover(tmp_path / "redis")
    yield topology
    topology.stop()


def acknowledged_uploads(url: str, count: int, deadline: Deadline) -> list[str]:
    """Upload ``count`` images, retrying what is refused (503) as a client would, until ``deadline``; the ids
    acknowledged."""
    ids: list[str] = []
    session = requests.Session()
    while len(ids) < count and not deadline.passed:
        try:
            resp = session.post(f"{url}/upload", files={"image": ("a.jpg", image_bytes(60, 40))}, timeout=10)
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if resp.status_code == 202:
            ids.append(str(resp.json()["jobId"]))
        else:
            time.sleep(0.1)
    return ids


def lose_the_primary_while_the_replica_lags(local: LocalStack, failover: Failover) -> tuple[list[str], list[str]]:
    """10 uploads, then 10 more while the replica is paused, then the primary killed and 10 more after the
    failover. Returns (acknowledged ids, those the store no longer has once the workers are done)."""
    local.start_api()
    deadline = Deadline(90, "30 acknowledged uploads")
    ids = acknowledged_uploads(local.url, 10, deadline)
    failover.partition()
    ids += acknowledged_uploads(local.url, 10, Deadline(2.5, "uploads"))  # as many as the partition allows
    failover.primary.signal(signal.SIGKILL)
    failover.wait_for_failover()
    ids += acknowledged_uploads(local.url, 10, deadline)
    local.start_workers(2)
    client = local.client
    settled = Deadline(60, "every surviving job to end")
    while not settled.passed:
        try:
            records = client.jobs(ids)
        except Exception:
            time.sleep(0.5)
            continue
        if all(r["status"] in ("done", "failed") for r in records):
            break
        time.sleep(0.5)
    found = {r["id"]: r for r in client.jobs(ids)}
    assert all(r["status"] == "done" for r in found.values()), "every surviving job is done"
    return ids, [i for i in ids if i not in found]


def sentinel_settings(settings: StackSettings, failover: Failover, replicas: int) -> StackSettings:
    return settings.with_overrides(redis_url="redis://unused:1/0", redis_sentinels=failover.addresses,
                                   redis_min_replicas=replicas, redis_replica_timeout=0.5)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_with_wait_a_failover_loses_no_acknowledged_job(local: LocalStack, failover: Failover) -> None:
    local.settings = sentinel_settings(local.settings, failover, replicas=1)
    ids, lost = lose_the_primary_while_the_replica_lags(local, failover)
    print(f"REDIS_MIN_REPLICAS=1: {len(ids)} acknowledged, {len(lost)} lost in the failover")
    assert len(ids) >= 20 and lost == []


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_without_wait_a_failover_loses_what_the_replica_had_not_got(local: LocalStack, failover: Failover) -> None:
    """The measurement the setting rests on: the same failover without WAIT."""
    local.settings = sentinel_settings(local.settings, failover, replicas=0)
    ids, lost = lose_the_primary_while_the_replica_lags(local, failover)
    print(f"REDIS_MIN_REPLICAS=0: {len(ids)} acknowledged, {len(lost)} lost in the failover")
    assert len(ids) >= 20 and len(lost) >= 1, "the jobs acknowledged during the lag are gone with the primary"
