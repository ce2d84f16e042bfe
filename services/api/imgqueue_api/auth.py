"""Who is calling. ``AUTH_MODE=open``: nobody has to say (every caller is admin; loopback only).
``AUTH_MODE=token``: every call but the public ones carries ``Authorization: Bearer <token>``; a token
belongs to a tenant and has a role. Event streams also take a signed ``ticket`` (EventSource cannot send
headers) and a result takes a signed link (see ``signing``).

Tokens are random (``iq_`` + 256 bits) and stored as their SHA-256 digest: a token read from Redis is of
no use. Seeded tokens (``API_TOKENS``) and the metrics token are compared in constant time; stored ones
are found by their digest, which an attacker cannot steer, so lookup timing tells nothing. Nothing is
cached: a revoked token fails on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Flask, g, request

from imgqueue.config import Settings
from imgqueue.queue import Queue
from imgqueue.records import TokenRecord

from .errors import ApiError
from .signing import Principal

F = TypeVar("F", bound=Callable[..., object])

OPEN = Principal("", "admin")
ROLES = ("admin", "client")
# Endpoints anyone may call, and those a ticket or a signed link may open.
PUBLIC = frozenset({"health.healthz", "health.readyz", "docs.openapi", "docs.page", "dashboard.index", "static"})
TICKET_ENDPOINTS = frozenset({"events.all_events", "events.job_events"})
LINK_ENDPOINT = "jobs.job_result"
METRICS_ENDPOINTS = frozenset({"metrics.metrics", "metrics.scaling"})
LINK = Principal("", "link")  # holds a signed result link: the result route checks the signature
TOKEN_PREFIX = "iq_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(queue: Queue, tenant: str, role: str, label: str = "") -> tuple[str, TokenRecord]:
    """A new token for ``tenant``: stored hashed; the token itself is returned once, here."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not tenant or not tenant.replace("-", "").replace("_", "").isalnum():
        raise ValueError("tenant must be letters, digits, - or _")
    token = new_token()
    hashed = digest(token)
    record = TokenRecord(hashed[:12], tenant, role, label, time.time())
    queue.save_token(hashed, record)
    return token, record


class Authenticator:
    def __init__(self, settings: Settings, queue: Queue) -> None:
        self.queue = queue
        self.mode = settings.auth_mode
        self.seeded = [(digest(tok), Principal(tenant, role)) for tenant, role, tok in settings.seeded_tokens]
        if settings.metrics_token:
            self.seeded.append((digest(settings.metrics_token), Principal("", "metrics")))

    def from_token(self, token: str) -> Principal | None:
        hashed = digest(token)
        found = None
        for seeded, who in self.seeded:  # every entry compared, in constant time
            if hmac.compare_digest(hashed, seeded):
                found = who
        if found is not None:
            return found
        record = self.queue.token(hashed)
        return Principal(record.tenant, record.role) if record else None


def install(app: Flask, authenticator: Authenticator, read_ticket: Callable[[str], Principal | None]) -> None:
    """Decide who is calling before every request; refuse with 401 when a token is needed and missing."""

    @app.before_request
    def _authenticate() -> None:
        endpoint = request.endpoint
        if endpoint is None or endpoint in PUBLIC or request.method == "OPTIONS":
            return
        if authenticator.mode == "open":
            g.principal = OPEN
            return
        who = _bearer(authenticator)
        if who is None and endpoint in TICKET_ENDPOINTS and request.args.get("ticket"):
            who = read_ticket(request.args["ticket"])
            if who is None:
                raise ApiError("unauthorized", "the stream ticket is invalid or expired: ask for a new one",
                               headers=_challenge("invalid_token"))
        if who is None and endpoint == LINK_ENDPOINT and request.args.get("sig"):
            who = LINK
        if who is None:
            raise ApiError("unauthorized", "send a valid API token: Authorization: Bearer <token>",
                           headers=_challenge())
        if who.role == "metrics" and endpoint not in METRICS_ENDPOINTS:
            raise ApiError("forbidden", "a metrics token may read /metrics and /scaling only")
        g.principal = who


def _bearer(authenticator: Authenticator) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    who = authenticator.from_token(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if who is None:
        raise ApiError("unauthorized", "the API token is not valid (revoked, mistyped, or not a Bearer token)",
                       headers=_challenge("invalid_token"))
    return who


def _challenge(error: str = "") -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="imgqueue"' + (f', error="{error}"' if error else "")}


def current() -> Principal:
    """The caller of this request (set before every non-public route)."""
    return g.get("principal", OPEN)  # type: ignore[no-any-return]


def may_see(tenant: str) -> bool:
    """Whether the caller may see a job of ``tenant``."""
    who = current()
    return who.admin or (who.role == "client" and who.tenant == tenant)


def require(*roles: str) -> Callable[[F], F]:
    """A route for these roles only (admin always may): 403 for any other token."""

    def wrap(route: F) -> F:
        @wraps(route)
        def checked(*args: object, **kwargs: object) -> object:
            who = current()
            if not (who.admin or who.role in roles):
                needed = " or ".join(["an admin token", *(f"a {role} token" for role in roles)])
                raise ApiError("forbidden", f"this needs {needed}")
            return route(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return wrap
