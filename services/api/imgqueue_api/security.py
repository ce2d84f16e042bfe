"""What a browser may do with the API: which Host names it answers to (a DNS-rebinding page must not be
able to drive a local instance), which origins may call it (CORS, preflight included; a cross-site form
post is refused too, as multipart needs no preflight), and the headers every response carries."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

from .errors import ApiError
from .settings import ApiSettings

ANY_HOST = frozenset({"health.healthz", "health.readyz"})  # container healthchecks call these by IP
CSP = "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
# What every answer carries, the API's own and gunicorn's alike (see raw_errors).
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY"}
PREFLIGHT_MAX_AGE = "600"


def install(app: Flask, settings: ApiSettings) -> None:
    hosts, origins = settings.hosts, settings.origins

    @app.before_request
    def _guard() -> Response | None:
        if hosts and _hostname(request.host) not in hosts and request.endpoint not in ANY_HOST:
            raise ApiError("host_not_allowed", "this API does not answer to that Host name (see ALLOWED_HOSTS)")
        origin = request.headers.get("Origin")
        if origin is None or _same_origin(origin) or origin.rstrip("/") in origins:
            if request.method == "OPTIONS":
                return app.response_class(status=204)
            return None
        raise ApiError("origin_not_allowed", "pages of this origin may not call the API (see ALLOWED_ORIGINS)")

    @app.after_request
    def _headers(resp: Response) -> Response:
        for name, value in HEADERS.items():  # no-referrer: signed links and tickets never leak to other sites
            resp.headers.setdefault(name, value)
        origin = request.headers.get("Origin", "")
        if origin and origin.rstrip("/") in origins:
            resp.headers["Access-Control-Allow-Origin"] = origin
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
            resp.headers["Access-Control-Expose-Headers"] = "Retry-After, RateLimit-Limit, RateLimit-Remaining, " \
                                                            "RateLimit-Reset, WWW-Authenticate"
            resp.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
            resp.vary.add("Origin")
        return resp


def _hostname(host: str) -> str:
    """The name in a Host header, without the port ('[::1]:8000' -> '[::1]')."""
    host = host.lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(origin: str) -> bool:
    """The page comes from the API itself (compared by host and port: behind a TLS proxy the scheme
    the API sees is not the one the browser used)."""
    return urlsplit(origin).netloc.lower() == request.host.lower()
