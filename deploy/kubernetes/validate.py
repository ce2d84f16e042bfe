#!/usr/bin/env python3
"""Render an overlay with ``kubectl kustomize`` and validate every object offline, strictly: Kubernetes'
own kinds against the API's schemas (kubernetes-validate), KEDA's ScaledObject and TriggerAuthentication
against JSON schemas generated from KEDA's CRDs (the cloudcoil-models-keda package), with no field the
schema does not know.

    python3 deploy/kubernetes/validate.py overlays/s3 [overlays/local-volume ...]
"""

from __future__ import annotations

import copy
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
KUBERNETES = "1.32.0"


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(HERE / overlay)], capture_output=True, text=True, check=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@cache
def keda_schema(kind: str) -> dict[str, Any]:
    from cloudcoil.models.keda import v1alpha1

    schema = getattr(v1alpha1, kind).model_json_schema(by_alias=True)
    return _closed(schema)


def _closed(schema: Any) -> Any:
    """Every object with known properties admits no others (the CRD's own structural schema does not)."""
    schema = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def validate(doc: dict[str, Any]) -> str | None:
    """None if ``doc`` is valid, else why not."""
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    try:
        if str(doc.get("apiVersion", "")).startswith("keda.sh/"):
            jsonschema.validate(doc, keda_schema(doc["kind"]))
        else:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
        return f"{name}: {getattr(exc, 'message', exc)}"
    except (kubernetes_validate.SchemaNotFoundError, AttributeError) as exc:
        return f"{name}: no schema ({exc})"
    return None


def main(argv: list[str]) -> int:
    problems = []
    for overlay in argv or ["overlays/local-volume", "overlays/s3"]:
        docs = render(overlay)
        problems += [f"{overlay}: {p}" for p in map(validate, docs) if p]
        print(f"{overlay}: {len(docs)} objects", file=sys.stderr)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
