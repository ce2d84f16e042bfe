"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from imgqueue.logs import setup_logging
from imgqueue.probe import load_decoders

from . import (
    auth,
    batches,
    bodies,
    control,
    dashboard,
    docs,
    errors,
    events,
    greenlets,
    health,
    jobs,
    metrics,
    results,
    security,
    state,
    tracing,
    uploads,
)
from .settings import ApiSettings


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may hold ``IMGQUEUE_SETTINGS`` (an ApiSettings) and Flask options."""
    load_decoders()  # before any request: under gevent a first import in a pool thread could hang
    app = Flask(__name__)
    app.request_class = bodies.UploadRequest
    config = dict(test_config or {})
    settings = config.pop("IMGQUEUE_SETTINGS", None) or ApiSettings.from_env()
    if not config.get("TESTING"):
        setup_logging(settings.log_level, lock=greenlets.native_rlock(), fmt=settings.log_format)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_request_bytes, JSON_SORT_KEYS=False)
    app.config.update(config)
    st = state.init_app(app, settings)
    tracing.install(app)  # first: every line of a request carries its trace id
    errors.register(app)
    security.install(app, settings)  # Host and Origin first, then who is calling
    auth.install(app, st.authenticator, lambda ticket: st.signer.read_ticket(ticket))
    bodies.install(app)  # the body's length, once the caller is known
    for blueprint in (health.bp, uploads.bp, jobs.bp, results.bp, control.bp, batches.bp, events.bp, dashboard.bp,
                      docs.bp):
        app.register_blueprint(blueprint)
    metrics.install(app)
    auth.allow(public=True)(app.view_functions["static"])  # the dashboard's files
    if settings.auth_mode == "open":
        app.logger.warning("AUTH_MODE=open: no tokens are asked for; anyone who reaches %s may do anything",
                           settings.public_address)
    return app
