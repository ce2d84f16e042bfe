"""``GET /``: the live dashboard (plain HTML, CSS and JS from ./static; works offline)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from . import auth

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@auth.allow(public=True)
def index() -> Response:
    resp = current_app.send_static_file("dashboard.html")
    resp.headers["Cache-Control"] = "no-cache"
    return resp
