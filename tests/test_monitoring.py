"""The monitoring files name only what exists: every metric an alert, a recording rule or the Grafana
dashboard reads is one the API exports (scraped from a real API, in token mode with the metrics token), or a
recording rule of rules.yml. (promtool checks and unit-tests the rules: make monitoring-check.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests
import yaml

from helpers import image_bytes
from imgqueue_dev.stack import LocalStack

MONITORING = Path(__file__).resolve().parents[1] / "deploy" / "monitoring"
NAME = re.compile(r"\b(imgqueue(?::[a-z0-9_]+)+|imgqueue_[a-z0-9_]+)\b")
SCRAPE = "prometheus-scrape-token-0123456789"


def exported(local: LocalStack) -> set[str]:
    text = requests.get(f"{local.url}/metrics", headers={"Authorization": f"Bearer {SCRAPE}"}, timeout=10).text
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            names |= {name} | ({f"{name}_bucket", f"{name}_count", f"{name}_sum"} if kind == "histogram" else set())
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def test_every_metric_the_rules_and_the_dashboard_read_is_exported(local: LocalStack) -> None:
    local.settings = local.settings.with_overrides(auth_mode="token", api_tokens="ops:admin:ops-admin-token-0123456789",
                                                   metrics_token=SCRAPE)
    local.start_api()
    local.start_workers(1)
    local.client_with("ops-admin-token-0123456789").submit(image_bytes(80, 60), 40, 30)
    have = exported(local)
    rules = yaml.safe_load((MONITORING / "rules.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    named = {n for e in exprs for n in NAME.findall(str(e))}
    unknown = named - have - recorded
    assert not unknown, f"names no metric the API exports nor a recording rule: {sorted(unknown)}"
    assert {"imgqueue_job_latency_seconds_bucket", "imgqueue_redis_memory_used_bytes",
            "imgqueue_disk_free_bytes", "imgqueue_workers_alive"} <= have
