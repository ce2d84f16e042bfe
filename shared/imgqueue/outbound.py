"""Requests to addresses a client named (webhook callbacks), safe against server-side request forgery.

A URL must be ``https`` (``http`` too with WEBHOOK_ALLOW_HTTP), without user information, at most
MAX_URL_LENGTH. Its host is resolved and refused when any address it resolves to is loopback, private,
link-local, shared (CGNAT), reserved, multicast or unspecified (IPv4-mapped and NAT64 IPv6 forms are
read as the IPv4 address they carry), unless WEBHOOK_ALLOW_PRIVATE; cloud metadata addresses are refused
always. The connection then goes to the address that was checked (never resolved again: no DNS
rebinding), with TLS verified against the host's name; redirects are never followed (a 3xx is a failed
attempt); the whole attempt (connecting, sending, every read) has one deadline, and the answer's body is
read up to a cap."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "168.63.129.16", "192.0.0.192", "fd00:ec2::254"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    """A URL that may not be called; the message says why."""


@dataclass(frozen=True)
class Policy:
    allow_http: bool = False
    allow_private: bool = False
    timeout: float = 10.0  # connect, and each read
    max_response_bytes: int = 65536


@dataclass(frozen=True)
class Target:
    url: SplitResult
    host: str
    port: int
    address: str  # the checked address the connection goes to


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    ms: float


def check_url(url: str, policy: Policy) -> SplitResult:
    """The URL's parts if its form may be called (scheme, host, no credentials); Refused if not."""
    if len(url) > MAX_URL_LENGTH or not url.isascii() or any(c.isspace() for c in url):
        raise Refused(f"a callback URL is ASCII without spaces, at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ (urllib's "Invalid IPv6 URL")
        raise Refused("a callback URL must be a URL: scheme://host[:port]/path") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise Refused(f"a callback URL must be {' or '.join(schemes)} (WEBHOOK_ALLOW_HTTP allows http)")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise Refused("a callback URL names a host, and carries no user or password")
    try:
        port = parts.port  # a port out of range raises
    except ValueError:
        port = 0
    if port == 0:  # 0, which urllib reads as given, would become the scheme's port
        raise Refused("a callback URL's port must be a number from 1 to 65535")
    return parts


def resolve(url: str, policy: Policy) -> Target:
    """Where a request to ``url`` would go: every address of its host checked. Refused if any may not be."""
    parts = check_url(url, policy)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(f"the callback host {host!r} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        refuse_address(ipaddress.ip_address(address.split("%")[0]), policy)
    if not addresses:
        raise Refused(f"the callback host {host!r} does not resolve")
    return Target(parts, host, port, addresses[0])


def refuse_address(ip: Address, policy: Policy) -> None:
    carried = _carried_v4(ip)
    if ip in METADATA or (carried is not None and carried in METADATA):
        raise Refused(f"the callback address {ip} is a cloud metadata address")
    if policy.allow_private:
        return
    for candidate in (ip, carried):
        if candidate is not None and (candidate.is_multicast or not candidate.is_global):
            raise Refused(f"the callback address {ip} is not public (loopback, private, link-local, reserved or "
                          "multicast; WEBHOOK_ALLOW_PRIVATE allows them)")


def _carried_v4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, compatible), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64 or int(ip) >> 32 == 0:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def post(url: str, body: bytes, headers: dict[str, str], policy: Policy) -> Answer:
    """POST ``body`` to ``url`` (resolved and checked), following no redirect. Raises Refused, or OSError
    (http.client.HTTPException) when the receiver cannot be reached or answers badly."""
    target = resolve(url, policy)
    started = time.monotonic()
    conn = _connection(target, policy.timeout)
    # Each read has its own timeout; this one is the whole attempt's, so that an answer trickled a byte
    # at a time cannot hold a dispatcher's thread: at the deadline the socket is shut, waking the read.
    late = threading.Event()
    deadline = threading.Timer(policy.timeout, _cut, (conn, late))
    deadline.start()
    try:
        path = (target.url.path or "/") + (f"?{target.url.query}" if target.url.query else "")
        conn.request("POST", path, body=body, headers={**headers, "content-length": str(len(body))})
        resp = conn.getresponse()
        answer = Answer(resp.status, resp.read(policy.max_response_bytes), (time.monotonic() - started) * 1000)
    except (OSError, http.client.HTTPException):
        if not late.is_set():
            raise
    finally:
        deadline.cancel()
        conn.close()
    if late.is_set():  # the socket was shut: whatever was read may be cut short
        raise TimeoutError(f"no whole answer within {policy.timeout:g} s")
    return answer


def _cut(conn: http.client.HTTPConnection, late: threading.Event) -> None:
    """Shut the connection's socket (from the deadline's thread): a read blocked on it returns at once."""
    late.set()
    if conn.sock is not None:
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to the checked address, whatever the host's name resolves to now."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(_Pinned):
    def connect(self) -> None:
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    return (_PinnedTLS if target.url.scheme == "https" else _Pinned)(target, timeout)
