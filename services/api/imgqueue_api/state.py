"""The API's shared resources, one set per process, kept on the app (as the Flask tutorial keeps its
database handle in ``db.py``): settings, the queue, file storage, the event hub, who may call, signing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property

from flask import Flask, current_app

from imgqueue import imaging
from imgqueue.config import Settings
from imgqueue.queue import Queue
from imgqueue.spec import Limits
from imgqueue.storage import Storage, open_storage

from .auth import Authenticator
from .hub import EventHub
from .signing import Signer

_KEY = "imgqueue"


@dataclass
class State:
    settings: Settings
    queue: Queue
    storage: Storage
    limits: Limits
    writable: frozenset[str]  # output format names this build can write
    hub: EventHub
    authenticator: Authenticator

    @cached_property
    def signer(self) -> Signer:
        """Signs result links and stream tickets: with SIGNING_KEY, or a random key kept in Redis that
        every API process (and replica) shares. Read on first use, so the API starts while Redis is down."""
        key = self.settings.signing_key or self.queue.shared_secret("signing_key", secrets.token_hex(32))
        return Signer(key.encode())


def init_app(app: Flask, settings: Settings) -> State:
    storage = open_storage(settings)
    if storage.kind == "local":
        storage.prepare()  # the folders; an object store is checked on first use (it may start after us)
    queue = Queue.from_settings(settings)
    connections = settings.api_worker_connections if settings.api_worker_class == "gevent" else settings.api_threads
    hub = EventHub(queue, settings.max_streams_per_client, max(1, connections // 2))
    state = State(settings, queue, storage, settings.limits, frozenset(imaging.output_formats()), hub,
                  Authenticator(settings, queue))
    app.extensions[_KEY] = state
    return state


def get() -> State:
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]
