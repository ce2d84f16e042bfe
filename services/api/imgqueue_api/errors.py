"""Every error leaves as JSON ``{"error": {"code", "message", ...}}``; never HTML, never a trace.

One mechanism: an error carries a machine-readable ``code`` (the core's exceptions and the API's own
``ApiError`` alike) and ``HTTP_STATUS`` alone maps codes to HTTP statuses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from imgqueue.errors import ImgqueueError
from imgqueue.store import FULL, UNAVAILABLE

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Problem:
    """What an error code means to a client: its HTTP status and a message as the API words one."""

    status: int
    example: str


ERRORS: dict[str, Problem] = {
    "invalid_parameter": Problem(400, "width must be a whole number in ASCII digits, got 'wide'"),
    "missing_file": Problem(400, "send the image as a multipart form field named 'image'"),
    "invalid_body": Problem(400, "the body is not a readable multipart form (missing boundary); part headers "
                                 "must be UTF-8"),
    "empty_file": Problem(400, "the uploaded file is empty"),
    "invalid_callback_url": Problem(400, "callbackUrl: the callback address 127.0.0.1 is not public (loopback, "
                                         "private, link-local, reserved or multicast; WEBHOOK_ALLOW_PRIVATE allows "
                                         "them)"),
    "webhooks_not_configured": Problem(400, "this tenant has no webhook secret to sign with: an admin creates one "
                                            "(imgqueue-admin webhooks create)"),
    "host_not_allowed": Problem(400, "this API does not answer to that Host name (see ALLOWED_HOSTS)"),
    "unauthorized": Problem(401, "send a valid API token: Authorization: Bearer <token>"),
    "forbidden": Problem(403, "this route is for the roles admin; the token is a client token"),
    "bad_signature": Problem(403, "this link's signature does not match: it was altered or forged"),
    "link_expired": Problem(403, "this link has expired: fetch the job again for a fresh resultUrl"),
    "link_revoked": Problem(403, "this link was made for a token that has since been revoked"),
    "origin_not_allowed": Problem(403, "pages of this origin may not call the API (see ALLOWED_ORIGINS)"),
    "job_not_found": Problem(404, "no job with id '0123456789abcdef0123456789abcdef'"),
    "variant_not_found": Problem(404, "the job has no output named 'w2000'"),
    "batch_not_found": Problem(404, "no batch with id '0123456789abcdef0123456789abcdef'"),
    "file_not_found": Problem(404, "no file 'index.html' here: the reference loads swagger-ui-bundle.js and "
                                   "swagger-ui.css"),
    "delivery_not_found": Problem(404, "no webhook message with id 'msg_0123456789abcdef0123456789abcdef_1'"),
    "body_timeout": Problem(408, "the request body did not arrive within 60 s"),
    "not_done": Problem(409, "job is processing, the result exists once it is done"),
    "not_cancellable": Problem(409, "the job has ended: it cannot be cancelled (it is done)"),
    "not_retryable": Problem(409, "only a failed or cancelled job can be retried (it is queued)"),
    "batch_full": Problem(409, "the batch expects 50 jobs and has 50: these 2 would be more"),
    "idempotency_in_progress": Problem(409, "a request with this Idempotency-Key is still being handled; try "
                                            "again shortly"),
    "result_gone": Problem(410, "the job is done but its output file has been removed"),
    "input_gone": Problem(410, "the job's upload is no longer kept (KEEP_FAILED_*, JOB_TTL): upload it again"),
    "expired": Problem(410, "the result was kept for OUTPUT_TTL after the job was done, and has been removed"),
    "file_too_large": Problem(413, "the file is more than the limit of 52428800 bytes"),
    "request_too_large": Problem(413, "the request is larger than the limit of 104857600 bytes"),
    "too_many_files": Problem(413, "120 files, more than the limit of 100"),
    "form_too_large": Problem(413, "the form has more than 200 parts, or a field of more than 65536 bytes "
                                   "(MAX_FORM_PARTS, MAX_FIELD_BYTES)"),
    "too_many_pixels": Problem(413, "a frame is 20000x20000 = 400000000 pixels, more than the limit of 50000000"),
    "output_too_large": Problem(413, "the output would be 8192x8192 pixels in 3 frames, more than the limit of "
                                     "16800000"),
    "not_an_image": Problem(415, "the file is not an image in any format we can read"),
    "unsupported_format": Problem(415, "ICO images are not supported; send JPEG, PNG, WebP, GIF, AVIF, BMP or TIFF"),
    "image_error": Problem(422, "the image cannot be processed"),
    "idempotency_mismatch": Problem(422, "this Idempotency-Key was used with another request: use a new key for "
                                         "a new request"),
    "corrupt_image": Problem(422, "the image could not be decoded (its structure is cut short or malformed)"),
    "too_many_frames": Problem(422, "the file has more than 200 frames or pages (the limit)"),
    "too_much_metadata": Problem(422, "the file holds more than 1000 metadata chunks or segments (the limit)"),
    "rate_limited": Problem(429, "more than 60 uploads in 60 s: try again in 12 s"),
    "too_many_streams": Problem(429, "this client holds 20 event streams open, the most allowed; close one first"),
    "too_many_uploads": Problem(429, "this client is sending 8 request bodies to this server already, the most "
                                     "allowed at once; wait for one to finish"),
    "redis_unavailable": Problem(503, "the job store (Redis) is unavailable; try again shortly"),
    "store_full": Problem(503, "the job store (Redis) is full: try again later"),
    "queue_full": Problem(503, "the queue holds 10000 jobs and may hold 10000: try again later (about 30 s "
                               "at the current pace)"),
    "not_replicated": Problem(503, "the job store confirmed the write on 0 of 1 replicas in time; try again"),
    "storage_error": Problem(503, "uploads/0123456789abcdef0123456789abcdef.jpg: the object store is unavailable "
                                  "(TimeoutError)"),
    "insufficient_storage": Problem(507, "the server is short of disk space for uploads; try again later"),
}
HTTP_STATUS = {code: problem.status for code, problem in ERRORS.items()}  # the one map from codes to HTTP


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
