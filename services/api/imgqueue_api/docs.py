"""The API's contract: ``GET /openapi.json`` (OpenAPI 3.1, built from the code by ``imgqueue_api.contract``
and kept in the repository as ``openapi.json``) and ``GET /docs``, a page rendered from it. The repository's
document describes token mode; an instance in open mode serves it with no security requirement, as it asks
for none."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify, render_template

from . import auth, state

bp = Blueprint("docs", __name__, template_folder="templates")


@cache
def document(open_mode: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((resources.files("imgqueue_api") / "openapi.json").read_text())
    if open_mode:
        doc = copy.deepcopy(doc)
        for item in doc["paths"].values():
            for operation in item.values():
                operation["security"] = []
    return doc


def served() -> dict[str, Any]:
    return document(state.get().settings.auth_mode == "open")


@bp.get("/openapi.json")
@auth.allow(public=True)
def openapi() -> Response:
    return jsonify(served())


@bp.get("/docs")
@auth.allow(public=True)
def page() -> str:
    doc = served()
    operations = [(path, method.upper(), op) for path, item in doc["paths"].items()
                  for method, op in item.items() if method in ("get", "post")]
    return render_template("docs.html", doc=doc, operations=operations, schemas=doc["components"]["schemas"])
