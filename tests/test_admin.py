"""``imgqueue-admin`` for operators against a real Redis and workers: jobs listed with filters, shown,
retried and cancelled, the queue's counters and the workers, as text and as JSON, with exit codes a script
can trust."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import image_bytes, wait_for
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack


def admin(settings: StackSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "imgqueue_api.admin", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_operators_list_show_retry_and_cancel_jobs_and_read_the_queue(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(max_retries=0)
    local.start_api()
    local.start_workers(1)
    client = local.client
    done = client.submit(image_bytes(120, 80), 60, 40)["jobId"]
    broken = client.submit(image_bytes(90, 60), 40, 30, delay=1.0)["jobId"]
    for path in local.settings.upload_dir.glob(f"{broken}.*"):
        path.write_bytes(b"\xff\xd8\xff not a jpeg any more")  # it fails at the worker
    later = client.submit(image_bytes(100, 60), 40, 30, delay=300)["jobId"]
    client.wait_all([done, broken], timeout=30)

    failed = json.loads(admin(local.settings, "jobs", "list", "--status", "failed", "--json").stdout)
    assert [j["id"] for j in failed] == [broken] and failed[0]["error_code"]
    text = admin(local.settings, "jobs", "list").stdout
    assert text.splitlines()[0].split()[:3] == ["id", "status", "tenant"] and all(i in text for i in (done, later))
    assert admin(local.settings, "jobs", "list", "--older-than", "3600", "--json").stdout.strip() == "[]"
    shown = json.loads(admin(local.settings, "jobs", "show", done, "--json").stdout)
    assert shown["status"] == "done" and shown["output_width"] == 60

    cancel = admin(local.settings, "jobs", "cancel", later, done)
    assert cancel.returncode == 1, "one of the two had ended: a script must know"
    assert f"{later}: cancelled" in cancel.stdout and done in cancel.stderr
    for path in local.settings.upload_dir.glob(f"{broken}.*"):
        path.write_bytes(image_bytes(90, 60))
    retry = admin(local.settings, "jobs", "retry", broken)
    assert retry.returncode == 0 and "queued again" in retry.stdout
    wait_for(lambda: client.status(broken) == "done", 20, "the retried job")
    assert admin(local.settings, "jobs", "show", "0" * 32).returncode == 1

    stats = json.loads(admin(local.settings, "queue", "stats", "--json").stdout)
    assert stats["done"] >= 2 and stats["cancelled"] == 1 and "depth_by_priority" in stats
    workers = json.loads(admin(local.settings, "workers", "list", "--json").stdout)
    assert len(workers) == 1 and workers[0]["alive"] is True
    assert "jobs_done" in admin(local.settings, "workers", "list").stdout.splitlines()[0]
    assert admin(local.settings, "jobs", "list", "--status", "nonsense").returncode == 2
    for option, value in (("--limit", "99999999999999999999"), ("--limit", "-1"), ("--older-than", "-5"),
                          ("--newer-than", "1e400"), ("--older-than", "abc")):
        refused = admin(local.settings, "jobs", "list", option, value)
        assert refused.returncode == 2 and option in refused.stderr and "Traceback" not in refused.stderr, value
