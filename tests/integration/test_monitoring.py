"""The bundled Prometheus (make up MONITORING=1): built like the other images (from Debian's package where no
registry is reachable), it scrapes the API in token mode with the metrics token, loads the alert rules, and
counts a job done."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from imgqueue_client import Client
from imgqueue_dev.compose import compose_project
from imgqueue_dev.procs import free_port
from imgqueue_dev.waiting import wait_until
from imgqueue_tester.samples import generate

from .conftest import FAST, ROOT

ADMIN, SCRAPE = "ops-admin-token-0123456789abcdef", "prometheus-scrape-token-0123456789"


def query(port: int, expr: str) -> float | None:
    """The first value of an instant query, or None when it has no result."""
    answer = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": expr}, timeout=10).json()
    result = answer["data"]["result"]
    return float(result[0]["value"][1]) if result else None


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_prometheus_scrapes_the_api_with_the_metrics_token_and_counts_a_job(tmp_path: Path) -> None:
    port = free_port()
    settings = {**FAST, "AUTH_MODE": "token", "API_TOKENS": f"ops:admin:{ADMIN}", "METRICS_TOKEN": SCRAPE,
                "PROMETHEUS_PORT": str(port)}
    with compose_project(ROOT, tmp_path, 1, files=("docker-compose.yml", "docker-compose.monitoring.yml"),
                         **settings) as stack:
        client = Client(stack.url, token=ADMIN)
        job = client.submit(generate(tmp_path / "in", 1, seed=4, max_side=400)[0], 120, 90)["jobId"]
        assert client.wait(job, timeout=120)["status"] == "done"
        wait_until(lambda: query(port, 'up{job="imgqueue"}') == 1, 120, "Prometheus to scrape the API",
                   interval=1.0, ignoring=(requests.RequestException, KeyError, ValueError))
        wait_until(lambda: (query(port, "imgqueue_jobs_completed_total") or 0) >= 1, 120,
                   "Prometheus to count the job", interval=1.0, ignoring=(requests.RequestException, KeyError))
        rules = requests.get(f"http://127.0.0.1:{port}/api/v1/rules", timeout=10).json()["data"]["groups"]
        alerts = {r["name"] for g in rules for r in g["rules"] if r["type"] == "alerting"}
        assert {"ImgqueueNoWorkerAlive", "ImgqueueBacklogGrowing", "ImgqueueFailureRatioHigh"} <= alerts
        assert query(port, "max(imgqueue_workers_alive)") == 1
