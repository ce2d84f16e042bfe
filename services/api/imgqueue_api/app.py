"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from imgqueue.config import Settings
from imgqueue.logs import setup_logging
from imgqueue.queue import Queue, connect
from imgqueue.storage import Storage

from . import dashboard, errors, events, health, jobs, metrics


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may hold ``IMGQUEUE_SETTINGS`` (a Settings) and Flask options."""
    app = Flask(__name__)
    config = dict(test_config or {})
    settings = config.pop("IMGQUEUE_SETTINGS", None) or Settings.from_env()
    if not app.testing and not config.get("TESTING"):
        setup_logging(settings.log_level)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_request_bytes, JSON_SORT_KEYS=False)
    app.config.update(config)
    storage = Storage(settings.upload_dir, settings.output_dir)
    storage.ensure_dirs()
    app.extensions["imgqueue"] = jobs.State(settings, Queue(connect(settings), settings), storage)
    errors.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(dashboard.bp)
    metrics.install(app)
    return app

