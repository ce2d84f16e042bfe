"""The API's shared resources, one set per process, kept on the app (as the Flask tutorial keeps its
database handle in ``db.py``): settings, the store, file storage, the event hub, who may call, signing."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from functools import cached_property

from flask import Flask, current_app

from imgqueue import imaging
from imgqueue.errors import ConfigError, InvalidSpec, StorageError
from imgqueue.spec import Limits
from imgqueue.storage import Storage, open_storage
from imgqueue.store import Store
from imgqueue.variants import Presets

from .auth import Authenticator
from .hub import EventHub
from .settings import ApiSettings
from .signing import Signer
from .slots import BodySlots

log = logging.getLogger(__name__)
_KEY = "imgqueue"


@dataclass
class State:
    settings: ApiSettings
    store: Store
    storage: Storage
    limits: Limits
    writable: frozenset[str]  # output format names this build can write
    hub: EventHub
    authenticator: Authenticator
    body_slots: BodySlots
    presets: Presets

    @cached_property
    def signer(self) -> Signer:
        """Signs result links and stream tickets: with SIGNING_KEY, or a random key kept in Redis that
        every API process (and replica) shares. Read on first use, so the API starts while Redis is down."""
        key = self.settings.signing_key or self.store.secrets.get_or_set("signing_key", secrets.token_hex(32))
        return Signer(key.encode())


def init_app(app: Flask, settings: ApiSettings) -> State:
    storage = open_storage(settings)
    try:
        storage.prepare()
    except StorageError as exc:  # a store that starts after us: uploads get 503 until it answers
        log.warning("storage not ready (%s); uploads will be refused until it is", exc)
    store = Store.from_settings(settings)
    hub = EventHub(store, settings.max_streams_per_client, max(1, settings.connections // 2))
    slots = BodySlots(settings.max_bodies_per_client, max(1, settings.connections // 4))
    writable = frozenset(imaging.output_formats())
    state = State(settings, store, storage, settings.limits, writable, hub, Authenticator(settings, store), slots,
                  presets_of(settings, writable))
    app.extensions[_KEY] = state
    return state


def presets_of(settings: ApiSettings, writable: frozenset[str]) -> Presets:
    """The operator's presets, checked now: a malformed one stops the API at start, naming it."""
    try:
        return Presets.parse(settings.presets_text, settings.presets_only, settings.limits, writable)
    except InvalidSpec as exc:
        raise ConfigError(f"PRESETS: {exc}") from None


def get() -> State:
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]
