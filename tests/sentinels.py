"""A Redis primary, its replicas and three Sentinels as real processes on localhost ports (the redis-server
binary the embedded server uses), for the tests that lose the primary (test_failover, test_two_machines)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ivr.operations.redis_server import EmbeddedRedis, EmbeddedSentinel

from .processes import free_port, wait_for

SERVICE = "mymaster"


@dataclass
class SentinelCluster:
    primary: EmbeddedRedis
    primary_port: int
    replicas: list[EmbeddedRedis]
    sentinels: list[EmbeddedSentinel]

    @property
    def addresses(self) -> str:
        """As IVR_REDIS_SENTINELS takes them."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def promoted(self, timeout: float = 30) -> tuple[str, int]:
        """Once a Sentinel still running names a primary other than the first one: its address."""
        def new_primary():
            for s in self.sentinels:
                if s.process is not None and s.process.poll() is None:
                    address = s.primary_address()
                    if address and address[1] != self.primary_port:
                        return address
            return None

        return wait_for(new_primary, timeout=timeout, what="the Sentinels to promote a replica")

    def stop(self) -> None:
        for server in (*self.sentinels, *self.replicas, self.primary):
            server.stop()


def start_cluster(folder: Path, replicas: int = 1) -> SentinelCluster:
    """A primary, ``replicas`` replicas and three Sentinels (quorum 2, down after 1 s) that have met each
    other and every replica, so a failover can start as soon as the primary is lost."""
    primary_port = free_port()
    primary = EmbeddedRedis(folder / "primary", appendonly=True, port=primary_port).start()
    cluster = SentinelCluster(primary, primary_port, [], [])
    try:
        for i in range(replicas):
            cluster.replicas.append(EmbeddedRedis(folder / f"replica-{i}", appendonly=True, port=free_port(),
                                                  replicaof=("127.0.0.1", primary_port)).start())
        for i in range(3):
            cluster.sentinels.append(EmbeddedSentinel(folder / f"sentinel-{i}", free_port(), ("127.0.0.1", primary_port),
                                                      service=SERVICE, down_after_ms=1000, failover_timeout_ms=3000).start())
        for s in cluster.sentinels:
            wait_for(lambda s=s: len(s.client(socket_timeout=1).sentinel_sentinels(SERVICE)) == 2
                     and len(s.client(socket_timeout=1).sentinel_slaves(SERVICE)) == replicas,
                     timeout=15, what="sentinels to meet")
    except BaseException:
        cluster.stop()
        raise
    return cluster
