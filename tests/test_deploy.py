"""The Kubernetes manifests (deploy/kubernetes): both overlays render and validate strictly offline, and say
what the README promises of them. No cluster runs here: this is all that is checked of them."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from imgqueue_dev.settings import StackSettings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "kubernetes"
OVERLAYS = ["overlays/local-volume", "overlays/s3"]
pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def validator() -> Any:
    spec = importlib.util.spec_from_file_location("k8s_validate", DEPLOY / "validate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["k8s_validate"] = module
    spec.loader.exec_module(module)
    return module


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_and_validate_strictly(overlay: str) -> None:
    v = validator()
    docs = v.render(overlay)
    assert [p for p in map(v.validate, docs) if p] == []
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ScaledObject", "TriggerAuthentication", "ConfigMap", "Secret"} <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_keep_the_promises(overlay: str) -> None:
    docs = validator().render(overlay)
    deployments = by_kind(docs, "Deployment")
    worker = deployments["imgqueue-worker"]["spec"]["template"]["spec"]
    assert worker["terminationGracePeriodSeconds"] > StackSettings().shutdown_timeout, "a scaled-in worker ends its job"
    api = deployments["imgqueue-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for deployment in deployments.values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["resources"]["requests"] and container["resources"]["limits"], container["name"]
    scaled = by_kind(docs, "ScaledObject")["imgqueue-worker"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "imgqueue-worker"
    trigger = scaled["triggers"][0]
    assert trigger["type"] == "metrics-api" and trigger["metadata"]["url"].endswith("/scaling")
    assert trigger["metadata"]["valueLocation"] == "backlog", "scale on queued + processing + delayed"
    uses_volume = any(v.get("persistentVolumeClaim") for v in worker.get("volumes", []))
    assert uses_volume == (overlay == "overlays/local-volume")


def test_the_validation_can_fail() -> None:
    v = validator()
    docs = v.render("overlays/s3")
    scaled = next(d for d in docs if d["kind"] == "ScaledObject")
    scaled["spec"]["scaleTargetRef"] = {"nmae": "imgqueue-worker"}
    assert v.validate(scaled)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["replicas"] = "two"
    assert v.validate(deployment)
