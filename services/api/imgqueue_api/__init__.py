"""imgqueue's HTTP API: ``gunicorn -c python:imgqueue_api.gunicorn_conf 'imgqueue_api:create_app()'``.

This module stays light on purpose: gunicorn imports ``imgqueue_api.gunicorn_conf`` (and so this package)
in its master process, before gevent patches the standard library in the workers and before the
metrics folder is set. Flask, Redis and prometheus_client are imported by ``create_app``, in the workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may hold ``IMGQUEUE_SETTINGS`` (an ApiSettings) and Flask options."""
    from .app import create_app as _create_app

    return _create_app(test_config)


__all__ = ["create_app"]
