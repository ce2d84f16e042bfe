"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from imgqueue.config import Settings
from imgqueue.logs import setup_logging

from . import dashboard, errors, events, health, jobs, metrics, state, uploads


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may hold ``IMGQUEUE_SETTINGS`` (a Settings) and Flask options."""
    app = Flask(__name__)
    config = dict(test_config or {})
    settings = config.pop("IMGQUEUE_SETTINGS", None) or Settings.from_env()
    if not config.get("TESTING"):
        setup_logging(settings.log_level)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_request_bytes, JSON_SORT_KEYS=False)
    app.config.update(config)
    state.init_app(app, settings)
    errors.register(app)
    for blueprint in (health.bp, uploads.bp, jobs.bp, events.bp, dashboard.bp):
        app.register_blueprint(blueprint)
    metrics.install(app)
    return app
