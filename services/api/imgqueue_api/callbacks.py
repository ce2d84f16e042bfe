"""Where a job or a batch is to be told it ended: ``callbackUrl``, checked when it is given (its form, and
every address its host resolves to, by the same rules the dispatcher applies again at each delivery), and
refused when nothing could sign the webhook (no WEBHOOK_SECRET in open mode; no endpoint secret for the
tenant in token mode)."""

from __future__ import annotations

import time

from imgqueue import outbound

from . import auth, greenlets, state
from .errors import ApiError


def callback_url(raw: object) -> str:
    """The checked URL, or '' when none is given. Raises ApiError."""
    url = str(raw or "").strip()
    if not url:
        return ""
    st = state.get()
    try:
        greenlets.offload(outbound.resolve, url, st.settings.outbound)
    except outbound.Refused as exc:
        raise ApiError("invalid_callback_url", f"callbackUrl: {exc}") from None
    if not can_sign(auth.current().tenant):
        raise ApiError("webhooks_not_configured", "nothing would sign this webhook: " + (
            "an admin creates this tenant's secret (imgqueue-admin webhooks create)" if auth.current().tenant
            else "set WEBHOOK_SECRET"))
    return url


def can_sign(tenant: str) -> bool:
    st = state.get()
    return bool(st.store.endpoints.destination(tenant, st.settings.webhook_secret, time.time())[1])
