"""A TCP relay in front of the primary whose replication links can be cut: everyone reaches the primary
through it (its replicas, the sentinels, the API and the workers), and ``cut()`` drops what the replication
streams carry from then on, as a network partition between the primary and its replicas would, while the
other clients go on.

Everyone goes through it because Sentinel compares the primary address each replica reports with the one
it monitors, and "fixes" a replica that differs (``+fix-slave-config``): replicas that replicated through a
relay of their own were moved onto the primary's own port after about eight seconds, and a later cut then
cut nothing."""

from __future__ import annotations

import contextlib
import select
import socket
import threading

from .procs import free_port

REPLICATION = (b"PSYNC", b"SYNC")  # what a replica sends to start its stream (RESP arrays, any case)


class Relay(threading.Thread):
    def __init__(self, target_port: int) -> None:
        super().__init__(name="relay", daemon=True)
        self.port = free_port()
        self.target = target_port
        self.cut_off = threading.Event()
        self.closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))

    def cut(self) -> None:
        """From now on, bytes of a replication stream that reach the relay are dropped, in both directions."""
        self.cut_off.set()

    def close(self) -> None:
        self.closing.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def run(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:  # the primary is gone: refuse the way it would
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        replicating = False
        try:
            while not self.closing.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client and not replicating:
                        replicating = any(word in data.upper() for word in REPLICATION)
                    if not (replicating and self.cut_off.is_set()):
                        peers[sock].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()
