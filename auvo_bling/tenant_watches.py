"""Every tenant's periodic looks (its quota pause, its company options) on one thread, each
kind of look one store read for every tenant (FleetLooks).

The per-tenant layout gives each tenant a quota-watch thread and an options-watch thread; with the
shared topology a process serving a thousand companies runs them all here instead: one thread, a
heap of due looks, each look short (a cached read, or one store read) and never fatal (their
`tick` methods log what failed and are tried again at their next turn).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from infra.bling.quota_watch import CHECK_SECONDS as QUOTA_CHECK_SECONDS
from infra.bling.quota_watch import METRICS_SECONDS as QUOTA_METRICS_SECONDS

if TYPE_CHECKING:
    from auvo_bling.options_reload import OptionsWatcher
    from infra.bling.quota_watch import QuotaWatch
    from infra.store import Store
    from infra.tenant_gate import TenantGate

log = structlog.get_logger("runtime")


class TenantWatches:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, float, str, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.looks = 0

    def every(
        self, seconds: float, name: str, look: Callable[[], None], *, first_after: float | None = None
    ) -> None:
        """Run `look()` every `seconds`, the first time after `first_after` (default: one interval)."""
        first = self._clock() + (seconds if first_after is None else first_after)
        with self._lock:
            heapq.heappush(self._heap, (first, next(self._seq), seconds, name, look))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                due = self._heap[0][0] if self._heap else None
            if due is None or due > self._clock():
                stop.wait(0.2 if due is None else min(0.2, max(0.0, due - self._clock())))
                continue
            with self._lock:
                _, _, seconds, name, look = heapq.heappop(self._heap)
            try:
                look()
            except Exception:  # the looks log their own failures; this only keeps the thread alive
                log.exception("a tenant watch failed", watch=name)
            self.looks += 1
            with self._lock:
                heapq.heappush(self._heap, (self._clock() + seconds, next(self._seq), seconds, name, look))


class FleetLooks:
    """Every tenant's pause, quota and options looks from one store read each, for all of them.

    Looked at one by one, a thousand companies cost the store a thousand pause reads every two
    seconds and a thousand options reads every five (profiled at 100 idle companies: three
    quarters of the process's CPU, more than their polling). Here one read of every pause primes
    each tenant's gate (the consumers' and pollers' next looks read nothing) and one read of every
    options revision finds the few tenants whose options moved; only those, and a tenant paused
    for its daily quota, get a look of their own.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tenants: dict[str, FleetMember] = {}
        self._lock = threading.Lock()

    def add(self, member: FleetMember) -> None:
        # a gate primed every QUOTA_CHECK_SECONDS answers from that read in between (a pause made
        # by another process is seen within this; the pausing process forgets its cache at once)
        member.gate.ttl = max(member.gate.ttl, 1.5 * QUOTA_CHECK_SECONDS)
        with self._lock:
            self._tenants[member.tenant] = member

    def remove(self, tenant: str) -> None:
        with self._lock:
            self._tenants.pop(tenant, None)

    def members(self) -> list[FleetMember]:
        with self._lock:
            return list(self._tenants.values())

    def look_at_pauses(self) -> None:
        members = self.members()
        try:
            pauses = self.store.tenant_pauses()
        except Exception as exc:  # the database is away: every gate keeps what it had
            log.warning("could not read the tenants' pauses; unchanged", error=str(exc))
            return
        for member in members:
            member.gate.prime(pauses.get(member.tenant))
            member.quota.tick(QUOTA_CHECK_SECONDS, observe=False)  # reads only when quota-paused

    def look_at_budgets(self) -> None:
        """The daily-budget gauges of every tenant from one read of the day's counts."""
        members = self.members()
        if not members:
            return
        try:
            calls = self.store.daily_calls_of(members[0].quota.guard.today())
            for member in members:
                member.quota.observe(calls.get(member.tenant, 0))
        except Exception as exc:
            log.warning("could not read the tenants' Bling calls of the day", error=str(exc))

    def look_at_options(self) -> None:
        members = [m for m in self.members() if m.options is not None]
        if not members:
            return
        try:
            revisions = self.store.options_revisions()
        except Exception as exc:
            log.warning("could not read the tenants' options revisions; running ones kept", error=str(exc))
            return
        for member in members:
            assert member.options is not None
            member.options.tick(revisions.get(member.tenant, 0))

    def every(self, watches: TenantWatches, *, options_seconds: float) -> None:
        watches.every(QUOTA_CHECK_SECONDS, "fleet-pauses", self.look_at_pauses, first_after=0)
        watches.every(QUOTA_METRICS_SECONDS, "fleet-budgets", self.look_at_budgets, first_after=0)
        watches.every(options_seconds, "fleet-options", self.look_at_options, first_after=0)


@dataclass(frozen=True)
class FleetMember:
    tenant: str
    gate: TenantGate
    quota: QuotaWatch
    options: OptionsWatcher | None
