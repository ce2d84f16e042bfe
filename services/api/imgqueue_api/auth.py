"""Who is calling, and what each route lets them do.

Every route declares its access beside its view (``@allow(...)``); a route without a declaration is
refused (default deny), and a test walks the URL map to fail on any. ``AUTH_MODE=open``: nobody has to
say who they are (every caller is admin; loopback only). ``AUTH_MODE=token``: every call to a route that
is not public carries ``Authorization: Bearer <token>``; a token belongs to a tenant and has a role.
Event streams may also open with a signed ``ticket`` (EventSource cannot send headers) and a result with
a signed link (see ``signing``).

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
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, g, request

from imgqueue.store import Store, TokenRecord

from .errors import ApiError
from .settings import ROLES, ApiSettings
from .signing import Principal

F = TypeVar("F", bound=Callable[..., object])

OPEN = Principal("", "admin")  # every caller in open mode
ANONYMOUS = Principal("", "anonymous")  # a caller that has not said who it is (public routes)
LINK = Principal("", "link")  # holds a signed result link: the result route checks the signature
TENANTS = ("client", "admin")  # roles of a tenant's token; ``metrics`` is the scrape token's
TOKEN_PREFIX = "iq_"


@dataclass(frozen=True)
class Access:
    """What a route lets through: anyone (``public``), or tokens of these ``roles``; ``ticket``: a signed
    stream ticket also opens it; ``link``: a signed result link also opens it."""

    roles: frozenset[str] = frozenset()
    public: bool = False
    ticket: bool = False
    link: bool = False


def allow(*roles: str, public: bool = False, ticket: bool = False, link: bool = False) -> Callable[[F], F]:
    """Declare a view's access: ``@allow(public=True)``, ``@allow(*TENANTS)``, ``@allow("admin")``..."""

    def declare(view: F) -> F:
        view.access = Access(frozenset(roles), public, ticket, link)  # type: ignore[attr-defined]
        return view

    return declare


def declared(view: Callable[..., object]) -> Access | None:
    return getattr(view, "access", None)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(store: Store, tenant: str, role: str, label: str = "") -> tuple[str, TokenRecord]:
    """A new token for ``tenant``: stored hashed; the token itself is returned once, here."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not tenant or not tenant.replace("-", "").replace("_", "").isalnum():
        raise ValueError("tenant must be letters, digits, - or _")
    token = new_token()
    hashed = digest(token)
    record = TokenRecord(token_id(hashed), tenant, role, label, time.time())
    store.tokens.save(hashed, record)
    return token, record


def token_id(hashed: str) -> str:
    """A token's public handle: the first 12 hex digits of its digest (to list it, revoke it, name it)."""
    return hashed[:12]


def seeded(settings: ApiSettings) -> list[tuple[str, Principal]]:
    """The tokens the settings seed (API_TOKENS, METRICS_TOKEN): (digest, who)."""
    out = [(digest(tok), Principal(tenant, role, token_id(digest(tok))))
           for tenant, role, tok in settings.seeded_tokens]
    if settings.metrics_token:
        hashed = digest(settings.metrics_token)
        out.append((hashed, Principal("", "metrics", token_id(hashed))))
    return out


class Authenticator:
    def __init__(self, settings: ApiSettings, store: Store) -> None:
        self.store = store
        self.mode = settings.auth_mode
        self.seeded = seeded(settings)

    def from_token(self, token: str) -> Principal | None:
        """Who a token stands for; None for an unknown or revoked one."""
        hashed = digest(token)
        found = None
        for known, who in self.seeded:  # every entry compared, in constant time
            if hmac.compare_digest(hashed, known):
                found = who
        if found is not None:
            return None if self.store.tokens.is_revoked(found.token) else found
        record = self.store.tokens.find(hashed)
        return Principal(record.tenant, record.role, record.id) if record else None

    def still_valid(self, who: Principal) -> bool:
        """Whether what ``who``'s token signed (a ticket, a link) still holds: the token is not revoked."""
        return not self.store.tokens.is_revoked(who.token)


def install(app: Flask, authenticator: Authenticator, read_ticket: Callable[[str], Principal | None]) -> None:
    """Before every request: find the route's declared access, decide who is calling, let them through or
    refuse (401 without a valid token, 403 for a token whose role the route does not take)."""

    @app.before_request
    def _authenticate() -> None:
        if request.endpoint is None:
            return  # no such route: the 404 handler answers
        access = declared(current_app.view_functions[request.endpoint])
        if access is None:
            raise ApiError("forbidden", "this route declares no access, so nobody may call it")
        if access.public or request.method == "OPTIONS":
            return
        if authenticator.mode == "open":
            g.principal = OPEN
            return
        who = _caller(authenticator, access, read_ticket)
        if who is not LINK and who.role not in access.roles:
            raise ApiError("forbidden", _needs(access, who))
        g.principal = who


def _caller(authenticator: Authenticator, access: Access,
            read_ticket: Callable[[str], Principal | None]) -> Principal:
    who = _bearer(authenticator)
    if who is None and access.ticket and request.args.get("ticket"):
        who = read_ticket(request.args["ticket"])
        if who is None or not authenticator.still_valid(who):
            raise ApiError("unauthorized", "the stream ticket is invalid or expired: ask for a new one",
                           headers=_challenge("invalid_token"))
    if who is None and access.link and request.args.get("sig"):
        who = LINK
    if who is None:
        raise ApiError("unauthorized", "send a valid API token: Authorization: Bearer <token>", headers=_challenge())
    return who


def _needs(access: Access, who: Principal) -> str:
    if who.role == "metrics":
        return "a metrics token may read /metrics and /scaling only"
    return "this needs " + " or ".join(f"a{'n' if r[0] in 'aeiou' else ''} {r} token" for r in sorted(access.roles))


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
    """The caller of this request: anonymous until a route's access check says otherwise."""
    return g.get("principal", ANONYMOUS)  # type: ignore[no-any-return]


def may_see(tenant: str) -> bool:
    """Whether the caller may see a job of ``tenant``."""
    who = current()
    return who.admin or (who.role == "client" and who.tenant == tenant)
