"""Verify a webhook from imgqueue as the Standard Webhooks specification says (the ``standardwebhooks``
package does the same): the signature of ``<webhook-id>.<webhook-timestamp>.<body>`` under the secret, and
a timestamp within ``tolerance`` seconds of now (a replayed old message fails)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE = 300


class WebhookError(Exception):
    """A delivery that does not verify: the message says why."""


def verify_webhook(secret: str, headers: Mapping[str, str], body: bytes | str, tolerance: float = TOLERANCE,
                   now: float | None = None) -> dict[str, Any]:
    """The delivery's JSON (``type``, ``timestamp``, ``data``) if one of its signatures is ``secret``'s;
    WebhookError otherwise. ``headers``: the request's, any case."""
    lower = {k.lower(): v for k, v in headers.items()}
    message_id, stamp, signatures = (lower.get(h, "") for h in ("webhook-id", "webhook-timestamp",
                                                                 "webhook-signature"))
    if not (message_id and stamp.isdigit() and signatures):
        raise WebhookError("missing webhook-id, webhook-timestamp or webhook-signature")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise WebhookError("the webhook's timestamp is too far from now (a replay?)")
    raw = body.encode() if isinstance(body, str) else body
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{message_id}.{stamp}.".encode() + raw, hashlib.sha256).digest())
    for candidate in signatures.split():
        version, _, sig = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(sig.encode(), expected):
            return dict(json.loads(raw))
    raise WebhookError("no signature of this webhook matches the secret")
