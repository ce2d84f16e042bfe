"""HMAC signatures: expiring result links that work without a header (so a result can sit in an
``<img src>``), and short-lived tickets that open an event stream (EventSource cannot send headers).

A link signs the canonical string ``GET\\n<path>\\n<expires>\\n<token id>`` (``by``: the token that
had it made; links made before 0.2 have none, and sign the first three lines); a ticket signs its own
payload (tenant, role, token id, expiry). Both are compared in constant time, as bytes. The key is
``SIGNING_KEY``, or a random key kept in Redis that every API process shares.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from .errors import ApiError


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant and a role (``admin`` sees everything; ``client`` its tenant's jobs;
    ``metrics`` only /metrics), and the id of the token that says so ('' in open mode): what the caller
    signs (tickets, result links) carries it, and stops working when that token is revoked."""

    tenant: str
    role: str
    token: str = ""

    @property
    def admin(self) -> bool:
        return self.role == "admin"


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    # --- result links --------------------------------------------------------------------------------

    def link(self, path: str, ttl: int, by: str = "", now: float | None = None) -> str:
        """``path`` with ``expires``, ``by`` (the token it was made for) and ``sig``, valid ``ttl`` seconds."""
        expires = int(now if now is not None else time.time()) + ttl
        sig = self._mac(_link_message(path, str(expires), by or None))
        params = {"expires": expires, **({"by": by} if by else {}), "sig": sig}
        return f"{path}?{urlencode(params)}"

    def check_link(self, path: str, expires: str, by: str | None, sig: str, now: float | None = None) -> int:
        """Seconds the link stays valid; ApiError 403 if it is tampered with or expired. (Whether its token,
        ``by``, is still valid is for the caller to check.)"""
        signed = expires.isascii() and expires.isdigit() and _same(self._mac(_link_message(path, expires, by)), sig)
        if not signed:
            raise ApiError("bad_signature", "this link's signature does not match: it was altered or forged")
        left = int(expires) - int(now if now is not None else time.time())
        if left <= 0:
            raise ApiError("link_expired", "this link has expired: fetch the job again for a fresh resultUrl")
        return left

    # --- event-stream tickets ------------------------------------------------------------------------

    def ticket(self, who: Principal, ttl: int, now: float | None = None) -> str:
        payload = json.dumps({"t": who.tenant, "r": who.role, "k": who.token, "e": int(now or time.time()) + ttl},
                             separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return body + "." + self._mac(_ticket_message(body))

    def read_ticket(self, ticket: str, now: float | None = None) -> Principal | None:
        """The principal a valid, unexpired ticket stands for; None otherwise."""
        body, _, sig = ticket.partition(".")
        if not body or not _same(self._mac(_ticket_message(body)), sig):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            expires, tenant, role, token = int(data["e"]), str(data["t"]), str(data["r"]), str(data.get("k", ""))
        except (ValueError, KeyError, TypeError):
            return None
        return Principal(tenant, role, token) if expires > (now or time.time()) else None


def _same(expected: str, given: str) -> bool:
    """Compare a signature in constant time, as bytes: any text a client sends compares (hmac's str form
    raises on non-ASCII), and only the right signature matches."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def _link_message(path: str, expires: str, by: str | None) -> str:
    return f"GET\n{path}\n{expires}" + (f"\n{by}" if by is not None else "")


def _ticket_message(body: str) -> str:
    return f"ticket\n{body}"
