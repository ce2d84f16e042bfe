"""The API's errors as exceptions: ``ApiError`` carries the HTTP ``status``, the API's ``code`` (for programs:
``codes.CODES`` lists every one) and its ``message`` (for people); a subclass per kind of answer lets a
caller catch what it can act on (``except NotFound``, ``except RateLimited as e: time.sleep(e.retry_after)``)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """The API answered with an error: ``status`` (HTTP), ``code`` and ``message`` from its JSON body."""

    def __init__(self, status: int, code: str, message: str, body: dict[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message, self.body = status, code, message, body or {}
        self.retry_after = retry_after  # seconds, when the API said when to try again (429, 503)


class InvalidRequest(ApiError):
    """400: a field, a parameter, the body or a callback URL the API refuses (the message names it)."""


class Unauthorized(ApiError):
    """401: no token, or not a valid one."""


class Forbidden(ApiError):
    """403: the token may not do this; a signed link altered, expired or revoked."""


class NotFound(ApiError):
    """404: no such job, batch, output or webhook message (or another tenant's)."""


class Conflict(ApiError):
    """409: not in a state for this (not done yet, ended already, a batch full, a key in use)."""


class Gone(ApiError):
    """410: the output or the upload is no longer kept."""


class TooLarge(ApiError):
    """413: a file, a request, a form or an image over a limit."""


class Unsupported(ApiError):
    """415: not an image, or a format the API does not read."""


class Unprocessable(ApiError):
    """422: an image that cannot be processed (corrupt, too many frames or metadata); a key reused."""


class RateLimited(ApiError):
    """429: too many uploads, streams or bodies at once: ``retry_after`` says when to try again."""


class Unavailable(ApiError):
    """503, 507: Redis, the queue, storage or disk cannot take it now: try again (``retry_after``)."""


BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 408: InvalidRequest, 409: Conflict,
    410: Gone, 413: TooLarge, 414: TooLarge, 415: Unsupported, 422: Unprocessable, 429: RateLimited,
    431: TooLarge, 503: Unavailable, 507: Unavailable}


def error_for(status: int, code: str, message: str, body: dict[str, Any] | None = None,
              retry_after: float | None = None) -> ApiError:
    """The exception of this answer's kind (ApiError itself for a status no subclass names)."""
    kind = BY_STATUS.get(status, Unavailable if status >= 500 else ApiError)
    return kind(status, code, message, body, retry_after)
