"""Bodies being read in one API process, counted per client, so that slow bodies from one client (or from
all) cannot hold every connection the process has."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ApiError


class BodySlots:
    """Bodies being read in this process: at most ``per_client`` for one client, ``total`` in all."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client, self.total = per_client, total
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, client: str) -> Iterator[None]:
        with self._lock:
            if self._held.get(client, 0) >= self.per_client:
                raise ApiError("too_many_uploads", f"this client is sending {self.per_client} request bodies to this "
                               "server already, the most allowed at once; wait for one to finish",
                               headers={"Retry-After": "1"})
            if sum(self._held.values()) >= self.total:
                raise ApiError("too_many_uploads", "this server is reading as many request bodies as it may; try "
                               "again shortly", headers={"Retry-After": "1"})
            self._held[client] = self._held.get(client, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._held[client] -= 1
                if not self._held[client]:
                    del self._held[client]
