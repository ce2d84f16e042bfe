"""A TCP relay that can be cut: a replica replicates through it, and ``cut()`` makes the link drop what it
carries from then on, as a network partition between the primary and its replicas would."""

from __future__ import annotations

import contextlib
import select
import socket
import threading

from .procs import free_port


class Relay(threading.Thread):
    def __init__(self, target_port: int) -> None:
        super().__init__(name="relay", daemon=True)
        self.port = free_port()
        self.target = target_port
        self.cut_off = threading.Event()
        self.closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))

    def cut(self) -> None:
        """From now on, bytes that reach the relay are dropped, in both directions."""
        self.cut_off.set()

    def close(self) -> None:
        self.closing.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def run(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                continue
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self.closing.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if not self.cut_off.is_set():
                        peers[sock].sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()
