"""Webhook messages: the outbox the Lua scripts write into when a job or a batch ends (common.lua's
``notify``), claimed by dispatchers under a lease (outbox.lua), their attempts recorded (attempted.lua),
read per job or batch, and redelivered by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..status import Delivery
from .part import Part

ATTEMPTS_SHOWN = 50


@dataclass
class Message:
    id: str
    event: str
    subject: str  # the job's or the batch's id
    tenant: str = ""
    url: str = ""  # the job's or batch's callbackUrl; empty: the tenant's endpoint
    created_at: float = 0.0
    state: str = Delivery.PENDING.value
    attempts: int = 0
    next_at: float = 0.0
    last_status: str = ""
    body: str = ""  # the payload, built at the first attempt and sent as it is on every later one
    attempt_log: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_fields(cls, message_id: str, raw: dict[str, str]) -> Message:
        return cls(id=message_id, event=raw.get("event", ""), subject=raw.get("subject", ""),
                   tenant=raw.get("tenant", ""), url=raw.get("url", ""),
                   created_at=float(raw.get("created_at") or 0), state=raw.get("state", Delivery.PENDING.value),
                   attempts=int(raw.get("attempts") or 0), next_at=float(raw.get("next_at") or 0),
                   last_status=raw.get("last_status", ""), body=raw.get("body", ""))

    def shown(self) -> dict[str, Any]:
        """As the API lists it (its payload aside)."""
        pending = self.state == Delivery.PENDING.value
        return {"id": self.id, "event": self.event, "state": self.state, "url": self.url, "createdAt": self.created_at,
                "attempts": self.attempt_log, "nextAttemptAt": self.next_at if pending else None}


@dataclass
class Outbox(Part):
    def claim(self, most: int, lease: float) -> tuple[list[Message], float | None]:
        """Up to ``most`` due messages, each held ``lease`` seconds; and when the next one is due."""
        raw = self.scripts("outbox", [], [most, lease])
        claimed = [Message.from_fields(str(raw[i]), _pairs(raw[i + 1])) for i in range(1, len(raw), 2)]
        return claimed, float(raw[0]) if raw[0] else None

    def wait(self, timeout: float) -> None:
        """Until a message is written (or ``timeout`` seconds): BLPOP on the outbox's wake-up tokens."""
        if timeout > 0:
            self.redis.blpop([self.keys.outbox_wake], timeout=max(0.01, timeout))

    def keep_body(self, message_id: str, body: str) -> str:
        """The message's payload: ``body`` unless an earlier attempt built one already."""
        key = self.keys.delivery(message_id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, "body", body)
            pipe.hget(key, "body")
            kept = pipe.execute()[1]
        return str(kept or body)

    def attempted(self, message_id: str, attempt: dict[str, Any], state: Delivery, next_at: float) -> None:
        self.scripts("attempted", [], [message_id, json.dumps(attempt, separators=(",", ":")), state.value,
                                       repr(next_at), str(attempt.get("status") or "")])

    def postpone(self, message_id: str, at: float) -> None:
        """Due again at ``at``, no attempt made (its tenant has enough deliveries in flight)."""
        self.redis.zadd(self.keys.outbox, {message_id: at}, xx=True)

    def get(self, message_id: str) -> Message | None:
        return self._read([message_id])[0]

    def _read(self, ids: list[str]) -> list[Message | None]:
        """The messages and their latest attempts, in one round trip (None for one that is gone)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.hgetall(self.keys.delivery(message_id))
                pipe.lrange(self.keys.delivery_attempts(message_id), -ATTEMPTS_SHOWN, -1)
            raw = pipe.execute()
        return [_message(message_id, raw[2 * i], raw[2 * i + 1]) for i, message_id in enumerate(ids)]

    def of(self, subject: str) -> list[Message]:
        """The messages about one job or batch, oldest first, with their attempts."""
        ids = [str(i) for i in self.redis.lrange(self.keys.deliveries(subject), 0, -1)]
        return [m for m in self._read(ids) if m is not None]

    def redeliver(self, message_id: str, now: float) -> bool:
        """A dead (or any) message pending again, due now; False when it is unknown."""
        key = self.keys.delivery(message_id)
        if not self.redis.exists(key):
            return False
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"state": Delivery.PENDING.value, "next_at": repr(now), "created_at": repr(now)})
            pipe.zadd(self.keys.outbox, {message_id: now})
            pipe.lpush(self.keys.outbox_wake, "1")
            pipe.execute()
        return True

    def pending(self) -> int:
        return int(self.redis.zcard(self.keys.outbox))


def _pairs(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {_text(k): _text(v) for k, v in raw.items()}
    return {_text(raw[i]): _text(raw[i + 1]) for i in range(0, len(raw), 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _message(message_id: str, fields: dict[Any, Any], attempts: list[Any]) -> Message | None:
    if not fields:
        return None
    message = Message.from_fields(message_id, _pairs(fields))
    message.attempt_log = [json.loads(a) for a in attempts]
    return message
