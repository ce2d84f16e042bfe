"""The API's shared resources, one set per process, kept on the app (as the Flask tutorial keeps its
database handle in ``db.py``): settings, the queue, file storage and the event hub."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from imgqueue import imaging
from imgqueue.config import Settings
from imgqueue.queue import Queue
from imgqueue.spec import Limits
from imgqueue.storage import Storage

from .hub import EventHub

_KEY = "imgqueue"


@dataclass(frozen=True)
class State:
    settings: Settings
    queue: Queue
    storage: Storage
    limits: Limits
    writable: frozenset[str]  # output format names this build can write
    hub: EventHub


def init_app(app: Flask, settings: Settings) -> State:
    storage = Storage(settings.upload_dir, settings.output_dir)
    storage.ensure_dirs()
    queue = Queue.from_settings(settings)
    state = State(settings, queue, storage,
                  Limits(settings.max_input_pixels, settings.max_frames, settings.max_output_dimension),
                  frozenset(imaging.output_formats()), EventHub(queue))
    app.extensions[_KEY] = state
    return state


def get() -> State:
    return current_app.extensions[_KEY]  # type: ignore[no-any-return]
