"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from . import auth, state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@auth.allow(public=True)
def healthz() -> Response:
    """The process is up and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
@auth.allow(public=True)
def readyz() -> Response:
    """Redis answers: uploads can be accepted. A Redis error becomes a 503 through the error handler."""
    state.get().store.ping()
    return jsonify(status="ready")
