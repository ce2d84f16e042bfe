"""Tenants' webhook endpoints: a default URL and the signing secret, rotated with the previous secret still
signing for a grace period (receivers that have not switched keep verifying)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..webhooks import new_secret
from .part import Part


@dataclass
class Endpoints(Part):
    def create(self, tenant: str, url: str) -> str:
        """A new endpoint for ``tenant`` (``url`` may be empty: callbacks per job only); its secret."""
        secret = new_secret()
        if not self.redis.hsetnx(self.keys.endpoint(tenant), "secret", secret):
            raise ConfigError(f"tenant {tenant!r} has a webhook endpoint already: rotate its secret, or set its url")
        self.redis.hset(self.keys.endpoint(tenant), "url", url)
        return secret

    def set_url(self, tenant: str, url: str) -> None:
        self._existing(tenant)
        self.redis.hset(self.keys.endpoint(tenant), "url", url)

    def rotate(self, tenant: str, grace: float, now: float) -> str:
        """A new secret; the one it replaces still signs for ``grace`` seconds. The new one."""
        old = self._existing(tenant)["secret"]
        secret = new_secret()
        self.redis.hset(self.keys.endpoint(tenant), mapping={"secret": secret, "previous_secret": old,
                                                             "previous_until": repr(now + grace)})
        return secret

    def show(self, tenant: str) -> dict[str, Any]:
        return self._existing(tenant)

    def delete(self, tenant: str) -> bool:
        return bool(self.redis.delete(self.keys.endpoint(tenant)))

    def signing(self, tenant: str, now: float) -> tuple[str, list[str]]:
        """The endpoint's url and the secrets that sign now (the current one first); ('', []) when none."""
        raw = self.redis.hgetall(self.keys.endpoint(tenant))
        if not raw:
            return "", []
        data = {str(k): str(v) for k, v in raw.items()}
        secrets = [data["secret"]]
        if data.get("previous_secret") and float(data.get("previous_until") or 0) > now:
            secrets.append(data["previous_secret"])
        return data.get("url", ""), secrets

    def destination(self, tenant: str, open_secret: str, now: float) -> tuple[str, list[str]]:
        """Where a tenant's webhooks go by default and what signs them: its endpoint (token mode), or for the
        open tenant ('') no default URL and ``open_secret`` (WEBHOOK_SECRET). No secret: nothing may be sent."""
        if tenant:
            return self.signing(tenant, now)
        return "", [open_secret] if open_secret else []

    def _existing(self, tenant: str) -> dict[str, Any]:
        raw = self.redis.hgetall(self.keys.endpoint(tenant))
        if not raw:
            raise ConfigError(f"tenant {tenant!r} has no webhook endpoint (imgqueue-admin webhooks create)")
        return {str(k): str(v) for k, v in raw.items()}
