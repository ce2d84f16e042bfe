"""Every error leaves as JSON ``{"error": {"code", "message", ...}}``; never HTML, never a trace.

One mechanism: an error carries a machine-readable ``code`` (the core's exceptions and the API's own
``ApiError`` alike) and ``HTTP_STATUS`` alone maps codes to HTTP statuses.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from imgqueue.errors import ImgqueueError
from imgqueue.store import FULL, UNAVAILABLE

log = logging.getLogger(__name__)

HTTP_STATUS = {
    "invalid_parameter": 400,
    "body_timeout": 408,
    "missing_file": 400,
    "invalid_body": 400,
    "empty_file": 400,
    "host_not_allowed": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "bad_signature": 403,
    "link_expired": 403,
    "link_revoked": 403,
    "origin_not_allowed": 403,
    "job_not_found": 404,
    "not_done": 409,
    "result_gone": 410,
    "expired": 410,
    "file_too_large": 413,
    "request_too_large": 413,
    "too_many_files": 413,
    "form_too_large": 413,
    "too_many_pixels": 413,
    "output_too_large": 413,
    "not_an_image": 415,
    "unsupported_format": 415,
    "image_error": 422,
    "corrupt_image": 422,
    "too_many_frames": 422,
    "too_much_metadata": 422,
    "rate_limited": 429,
    "too_many_streams": 429,
    "too_many_uploads": 429,
    "redis_unavailable": 503,
    "store_full": 503,
    "queue_full": 503,
    "not_replicated": 503,
    "storage_error": 503,
    "insufficient_storage": 507,
}


class ApiError(ImgqueueError):
    """An error the API answers with: ``code`` picks the HTTP status; ``details`` join the JSON body and
    ``headers`` the response (``WWW-Authenticate``, ``Retry-After``...)."""

    def __init__(self, code: str, message: str, /, headers: dict[str, str] | None = None, **details: object) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.headers = code, message, details, headers or {}


def error_response(code: str, message: str, /, headers: dict[str, str] | None = None,
                   **details: object) -> tuple[Response, int]:
    body: dict[str, object] = {"code": code, "message": message, **details}
    resp = jsonify(error=body)
    resp.headers.update(headers or {})
    return resp, HTTP_STATUS.get(code, 500)


def register(app: Flask) -> None:
    @app.errorhandler(ImgqueueError)
    def _ours(exc: ImgqueueError) -> tuple[Response, int]:
        if exc.code not in HTTP_STATUS:
            return _unexpected(exc)
        if isinstance(exc, ApiError):
            return error_response(exc.code, str(exc), exc.headers, **exc.details)
        return error_response(exc.code, str(exc))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response("request_too_large", f"the request is larger than the limit of {limit} bytes")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        """Flask's own (unknown route, wrong method): their status, under a code made from their name."""
        code = (exc.name or "error").lower().replace(" ", "_")
        resp = jsonify(error={"code": code, "message": exc.description or exc.name})
        resp.headers.extend([(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"])  # e.g. Allow
        return resp, exc.code or 500

    def _redis_down(exc: Exception) -> tuple[Response, int]:
        log.warning("redis unavailable: %s", exc)
        return error_response("redis_unavailable", "the job store (Redis) is unavailable; try again shortly")

    for kind in UNAVAILABLE:
        app.register_error_handler(kind, _redis_down)

    @app.errorhandler(FULL)
    def _redis_full(exc: Exception) -> tuple[Response, int]:
        log.warning("redis full: %s", exc)
        return error_response("store_full", "the job store (Redis) is full: try again later",
                              headers={"Retry-After": "60"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return jsonify(error={"code": "internal_error", "message": "an unexpected error occurred; it has been "
                                                                  "logged"}), 500
