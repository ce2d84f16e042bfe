"""Every error leaves as JSON ``{"error": {"code", "message"}}``; never HTML, never a trace."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from imgqueue.errors import ImageError, InvalidSpec, JobNotFound

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, http_status: int, code: str, message: str, /, **details: object) -> None:
        super().__init__(message)
        self.http_status, self.code, self.message, self.details = http_status, code, message, details


def error_response(http_status: int, code: str, message: str, /, **details: object) -> tuple[Response, int]:
    body: dict[str, object] = {"code": code, "message": message}
    body.update(details)
    return jsonify(error=body), http_status


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> tuple[Response, int]:
        return error_response(exc.http_status, exc.code, exc.message, **exc.details)

    @app.errorhandler(JobNotFound)
    def _not_found(exc: JobNotFound) -> tuple[Response, int]:
        return error_response(404, exc.code, str(exc))

    @app.errorhandler(InvalidSpec)
    def _invalid(exc: InvalidSpec) -> tuple[Response, int]:
        return error_response(400, exc.code, str(exc))

    @app.errorhandler(ImageError)
    def _image(exc: ImageError) -> tuple[Response, int]:
        return error_response(exc.http_status, exc.code, str(exc))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response(413, "request_too_large", f"the request is larger than the limit of {limit} bytes")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(redis.ConnectionError)
    @app.errorhandler(redis.TimeoutError)
    def _redis_down(exc: Exception) -> tuple[Response, int]:
        log.warning("redis unavailable: %s", exc)
        return error_response(503, "redis_unavailable", "the job store (Redis) is unavailable; try again shortly")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
