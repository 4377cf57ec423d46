"""Which tenants a producer process polls: a lease per shard of tenants, each process its fair share.

With one leader for all tenants, a second `produce` process only waits; with a lease per tenant,
a thousand tenants cost a thousand renewals. Tenants are hashed into a fixed number of shards
(`poll.shards`); each shard's lease is held by one process, so its tenants are polled by one
process at a time, and every process takes at most its fair share, `ceil(shards / processes)`.
The processes are counted by their presence lease (`producers:<owner>`), renewed with the shards:
a process that starts makes the others give up their extra shards at their next renewal, and the
shards of a process that dies (its leases run out, or on the same machine its pid is gone) are
taken by the others within a lease.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import zlib
from collections.abc import Callable
from typing import Any

import structlog

from infra.logging import scrub

log = structlog.get_logger("producers")

SHARD_PREFIX = "poll-shard:"
PRESENCE_PREFIX = "producers:"


def shard_of(tenant: str, shards: int) -> int:
    """The tenant's shard: stable across processes and restarts (crc32, not Python's hash)."""
    return zlib.crc32(tenant.encode("utf-8")) % shards


class PollShards:
    """This process's shard leases, renewed together every third of their life (`keep`)."""

    def __init__(
        self,
        store: Any,
        shards: int,
        ttl_seconds: float,
        owner: str | None = None,
        on_gained: Callable[[Callable[[str], bool]], None] | None = None,
    ) -> None:
        """`on_gained(is_new)` is told after a renewal that took shards: `is_new(tenant)` says
        whether the tenant is in one of them (the scheduler polls those at once instead of after
        the stretched interval their standby ticks waited)."""
        self.on_gained = on_gained
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.store = store
        self.shards = shards
        self.ttl_seconds = ttl_seconds
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._held: frozenset[int] = frozenset()
        self._lock = threading.Lock()

    def holds(self, tenant: str) -> bool:
        return shard_of(tenant, self.shards) in self._held

    @property
    def held(self) -> frozenset[int]:
        return self._held

    def renew(self) -> frozenset[int]:
        """Renew what is held, give up what is beyond the fair share, take free shards up to it."""
        with self._lock:
            store, owner, ttl = self.store, self.owner, self.ttl_seconds
            store.try_lock(f"{PRESENCE_PREFIX}{owner}", owner, ttl)
            processes = max(1, len(store.lease_holders(PRESENCE_PREFIX)))
            share = math.ceil(self.shards / processes)
            holders = store.lease_holders(SHARD_PREFIX)
            renewed = store.renew_leases([_name(n) for n in sorted(self._held)], owner, ttl)
            kept = [n for n in sorted(self._held) if _name(n) in renewed]
            for extra in kept[share:]:  # another process came: leave it its share
                store.unlock(_name(extra), owner)
            held = set(kept[:share])
            for shard in range(self.shards):
                if len(held) >= share:
                    break
                if shard in held or _name(shard) in holders:
                    continue
                if store.try_lock(_name(shard), owner, ttl):
                    held.add(shard)
            if held != set(self._held):
                log.info(
                    "poll shards",
                    owner=owner,
                    held=len(held),
                    shards=self.shards,
                    processes=processes,
                )
            gained = frozenset(held - set(self._held))
            self._held = frozenset(held)
        if gained and self.on_gained is not None:
            shards = self.shards
            self.on_gained(lambda tenant: shard_of(tenant, shards) in gained)
        return self._held

    def keep(self, stop: threading.Event) -> None:
        while True:
            try:
                self.renew()
            except Exception as exc:  # the store being away: the next tick tries again
                log.warning("poll shards not renewed", owner=self.owner, error=scrub(str(exc)))
            if stop.wait(self.ttl_seconds / 3):
                return

    def release(self) -> None:
        """Stopping: every shard (and the presence) free at once, for the others to take."""
        with self._lock:
            for shard in self._held:
                self.store.unlock(_name(shard), self.owner)
            self.store.unlock(f"{PRESENCE_PREFIX}{self.owner}", self.owner)
            self._held = frozenset()


def _name(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard}"
