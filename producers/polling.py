"""What every poller shares: a loop with an interval, and memory of what it just published.

Pollers re-read an overlap window on every pass (clocks drift, transactions commit late), so
the same change is seen several times. The event id is deterministic, so consumers would drop
the repeats anyway; remembering recently published ids here saves the broker and the consumers
that work.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from contracts.envelope import Envelope
from infra import metrics
from infra.errors import IntegrationError
from infra.health import PollHealth
from infra.logging import scrub
from infra.tenant_gate import TenantGate

log = structlog.get_logger("producer")


class EventPublisher(Protocol):
    def publish(self, envelope: Envelope) -> None: ...


class RecentlyPublished:
    """A bounded set of event ids; publishing an id already in it is skipped."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class Poller(Protocol):
    name: str

    def poll_once(self) -> int: ...


def publish_new(publisher: EventPublisher, recent: RecentlyPublished, envelope: Envelope) -> bool:
    """Publish (with confirm) unless this exact event went out recently; True if published."""
    if envelope.event_id in recent:
        return False
    publisher.publish(envelope)
    recent.add(envelope.event_id)
    return True


class LeaderLease:
    """Only one producer process polls at a time, so a second `run`/`produce` is safe.

    The lease lives in the store and is renewed before every pass; if the leader dies, its lease
    runs out (or, on the same machine, its process is seen gone) and a standby takes over.
    """

    def __init__(self, store: Any, tenant: str, ttl_seconds: float, owner: str | None = None) -> None:
        self.store = store
        self.name = f"{tenant}:producer-leader"
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.ttl_seconds = ttl_seconds
        self._was_leader: bool | None = None

    def held(self) -> bool:
        leader = self.store.try_lock(self.name, self.owner, self.ttl_seconds)
        if leader != self._was_leader:
            log.info("producer leadership", leader=leader, owner=self.owner)
            self._was_leader = leader
        return leader

    def release(self) -> None:
        self.store.unlock(self.name, self.owner)


class BatchPublisher(EventPublisher, Protocol):
    def publish_batch(self, envelopes: list[Envelope]) -> None: ...


def publish_all(publisher: EventPublisher, recent: RecentlyPublished, envelopes: list[Envelope]) -> int:
    """Publish a page of events (pipelined confirms when the publisher can), skipping repeats."""
    fresh = [e for e in envelopes if e.event_id not in recent]
    if not fresh:
        return 0
    batch = getattr(publisher, "publish_batch", None)
    if batch is not None:
        batch(fresh)
    else:
        for envelope in fresh:
            publisher.publish(envelope)
    for envelope in fresh:
        recent.add(envelope.event_id)
    return len(fresh)


def run_poll_loop(
    poller: Poller,
    interval: float,
    stop: threading.Event,
    leader: LeaderLease | None = None,
    heard: Callable[[str], None] | None = None,
    gate: TenantGate | None = None,
    health: PollHealth | None = None,
) -> None:
    """Poll until stopped; a failed pass is logged and retried on the next tick, never fatal.

    `heard(poller.name)` is called after every pass the source answered, so `status` can show
    when each source was last heard from by poll (next to "by webhook"). With a `gate`, nothing is
    polled while the tenant is paused, and an error that condemns the whole account pauses it.
    `health` records each completed pass (or standby tick) and each failure, for `/readyz`: never
    fatal, but a loop that keeps failing must not look ready.
    """
    while not stop.is_set():
        started = time.monotonic()
        try:
            # inside the try: a database error in the lease check is retried next tick, like any
            standby = leader is not None and not leader.held()
            if standby or (gate is not None and not gate.is_open()):
                if health is not None:
                    health.passed(standby=standby)
                stop.wait(interval)
                continue
            published = poller.poll_once()
            metrics.observe_poll(poller.name, published)
            if health is not None:
                health.passed()
            if heard is not None:
                heard(poller.name)
            if published:
                log.info("poll published events", poller=poller.name, published=published)
        except IntegrationError as exc:
            log.warning("poll failed; will retry", poller=poller.name, **exc.diagnosis())
            if health is not None:
                health.failed(exc)
            if exc.pauses_tenant and gate is not None:
                gate.pause(exc)
        except Exception as exc:  # keep polling; the cursor was not advanced
            log.exception("poll crashed; will retry", poller=poller.name, error=scrub(str(exc)))
            if health is not None:
                health.failed(exc)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
