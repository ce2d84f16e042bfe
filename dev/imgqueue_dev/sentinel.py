"""Redis that fails over, on loopback: a primary, two replicas and three sentinels (Debian's redis-server
and redis-sentinel), for the failover tests and for trying REDIS_SENTINELS by hand. Two replicas, so that
after a failover the new primary still has one (with REDIS_MIN_REPLICAS=1 it must, to acknowledge)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from .partition import Relay
from .procs import Proc, free_port
from .stack import start_redis
from .waiting import wait_until

MASTER = "mymaster"


@dataclass
class Failover:
    primary: Proc
    replicas: list[Proc]
    sentinels: list[Proc]
    ports: dict[str, int]
    folder: Path
    relay: Relay  # the first primary's address for everyone: its replicas, the sentinels, the clients

    def partition(self) -> None:
        """Cut the replicas off the primary: what it takes from now on, they never get."""
        self.relay.cut()

    @property
    def addresses(self) -> str:
        """REDIS_SENTINELS for this topology."""
        return ",".join(f"127.0.0.1:{self.ports[f'sentinel{i}']}" for i in range(len(self.sentinels)))

    def primary_port(self) -> int:
        """The port of the primary as the sentinels see it now."""
        client = redis.Redis(port=self.ports["sentinel0"], decode_responses=True, socket_timeout=2)
        try:
            return int(_sentinel(client, "GET-MASTER-ADDR-BY-NAME", MASTER)[1])
        finally:
            client.close()

    def replica_ports(self) -> list[int]:
        return [self.ports[f"replica{i}"] for i in range(len(self.replicas))]

    def wait_for_failover(self, timeout: float = 30) -> int:
        """Until the sentinels name a replica primary, it accepts writes and has a replica of its own;
        returns its port."""
        wait_until(lambda: self.primary_port() in self.replica_ports(), timeout, "the failover",
                   ignoring=(OSError, redis.RedisError))
        client = redis.Redis(port=self.primary_port(), socket_timeout=2)
        wait_until(lambda: (info := client.info("replication"))["role"] == "master"
                   and int(info["connected_slaves"]) >= 1, timeout, "the new primary and its replica")
        client.close()
        return self.primary_port()

    def stop(self) -> None:
        for proc in [*self.sentinels, *self.replicas, self.primary]:
            proc.stop(timeout=5)
        self.relay.close()


def start_failover(folder: Path | None = None, down_after_ms: int = 1000) -> Failover:
    """Primary and two replicas, and three sentinels with a quorum of two, the primary reached by all
    through a relay whose replication streams ``partition()`` cuts; returns once both replicas are in sync."""
    exe = shutil.which("redis-sentinel")
    if exe is None:
        raise FileNotFoundError("redis-sentinel is not on PATH (Debian: apt-get install redis-sentinel)")
    folder = folder or Path(tempfile.mkdtemp(prefix="imgqueue-failover-"))
    ports = {"primary": free_port()}
    primary, _ = start_redis(ports["primary"], folder / "primary", False, _log(folder, "primary"),
                             "--repl-diskless-sync-delay", "0", password=False)
    relay = Relay(ports["primary"])
    relay.start()
    replicas = []
    for i in range(2):
        port = ports[f"replica{i}"] = free_port()
        replicas.append(start_redis(port, folder / f"replica{i}", False, _log(folder, f"replica{i}"), "--replicaof",
                                    "127.0.0.1", str(relay.port), "--replica-announce-ip", "127.0.0.1",
                                    password=False)[0])
    sentinels = []
    for i in range(3):
        port = ports[f"sentinel{i}"] = free_port()
        conf = folder / f"sentinel{i}.conf"
        conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {folder}\nprotected-mode no\n"
                        f"sentinel monitor {MASTER} 127.0.0.1 {relay.port} 2\n"
                        f"sentinel down-after-milliseconds {MASTER} {down_after_ms}\n"
                        f"sentinel failover-timeout {MASTER} 5000\nsentinel parallel-syncs {MASTER} 1\n")
        sentinels.append(Proc(f"sentinel{i}", [exe, str(conf)], log=_log(folder, f"sentinel{i}")).start())
    topology = Failover(primary, replicas, sentinels, ports, folder, relay)
    check = redis.Redis(port=ports["sentinel0"], decode_responses=True, socket_timeout=2)

    def all_known() -> bool:
        replicas_seen = _sentinel(check, "REPLICAS", MASTER)
        sentinels_seen = _sentinel(check, "SENTINELS", MASTER)
        return len(replicas_seen) == 2 and len(sentinels_seen) == 2

    wait_until(all_known, 30, "the sentinels to see the replicas and one another")
    check.close()
    first = redis.Redis(port=ports["primary"], decode_responses=True, socket_timeout=2)
    wait_until(lambda: sum(1 for k, v in first.info("replication").items()
                           if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online") == 2,
               30, "both replicas in sync")
    first.close()
    return topology


def _sentinel(client: redis.Redis, *args: str) -> Any:
    """A SENTINEL subcommand (redis-py's own helpers for them are untyped)."""
    return client.execute_command("SENTINEL", *args)  # type: ignore[no-untyped-call]


def _log(folder: Path, name: str):  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    return (folder / f"{name}.log").open("wb")
