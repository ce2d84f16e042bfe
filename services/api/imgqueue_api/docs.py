"""The API's contract: ``GET /openapi.json`` (OpenAPI 3.1, built from the code by ``imgqueue_api.contract``
and kept in the repository as ``openapi.json``) and ``GET /docs``, the reference rendered from it by Swagger UI
(its files come with the ``flask-swagger-ui`` package, served from the image itself: no CDN, nothing fetched
at run time). The repository's document describes token mode; an instance in open mode serves it with no
security requirement, as it asks for none."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, Response, jsonify, render_template, send_from_directory

from . import auth, state
from .errors import ApiError

bp = Blueprint("docs", __name__, template_folder="templates")
UI_FOLDER = Path(flask_swagger_ui.__file__).parent / "dist"
UI_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css"})  # what the page loads, and nothing else


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
    return render_template("docs.html", title=served()["info"]["title"])


@bp.get("/docs/ui/<name>")
@auth.allow(public=True)
def ui_file(name: str) -> Response:
    """Swagger UI's own files, from the package (cached a day: they change with the image only)."""
    if name not in UI_FILES:
        raise ApiError("file_not_found", f"no file {name[:80]!r} here: the reference loads "
                       f"{' and '.join(sorted(UI_FILES))}")
    return send_from_directory(UI_FOLDER, name, max_age=86400)
