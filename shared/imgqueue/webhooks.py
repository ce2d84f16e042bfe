"""Webhook messages as the Standard Webhooks specification has them (standardwebhooks.com): a JSON body
``{"type", "timestamp", "data"}`` and three headers, ``webhook-id`` (the same on every attempt),
``webhook-timestamp`` (epoch seconds of this attempt) and ``webhook-signature``: ``v1,`` and the base64
HMAC-SHA256 of ``<id>.<timestamp>.<body>`` under the secret (``whsec_`` + base64 of its bytes); while a
rotated secret's grace period lasts, a second signature with the previous one, space-separated. Receivers
verify with the ``standardwebhooks`` package, ``imgqueue_client.verify_webhook`` or their own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
from datetime import UTC, datetime
from typing import Any

from .errors import ConfigError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
BACKOFF_CAP = 3600.0  # the longest wait between two attempts (seconds)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret (``whsec_`` + base64). Raises ConfigError naming what is wrong."""
    text = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise ConfigError("a webhook secret is whsec_ followed by base64 (make one: imgqueue-admin webhooks "
                          "new-secret)") from None
    if len(key) < 16:
        raise ConfigError("a webhook secret must hold at least 16 bytes")
    return key


def signature(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(secret_key(s), signed, hashlib.sha256).digest()).decode()
                    for s in secrets_)


def headers(message_id: str, timestamp: int, body: bytes, secrets_: list[str]) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secrets_, message_id, timestamp, body),
            "content-type": "application/json", "user-agent": "imgqueue-webhooks"}


def envelope(event: str, data: dict[str, Any], when: float) -> str:
    """The body: the event's type, when it happened (RFC 3339) and what it is about."""
    stamp = datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"type": event, "timestamp": stamp, "data": data}, separators=(",", ":"))


def backoff(attempts: int, base: float, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: ``base`` doubling each time, at most
    BACKOFF_CAP, with jitter (between half and all of it) so that receivers coming back are not stampeded."""
    full = min(BACKOFF_CAP, base * 2.0 ** max(0, attempts - 1))
    draw: float = (rng or random).random()
    return full * (0.5 + 0.5 * draw)
