"""What every poller shares: a loop with an adaptive interval, and memory of what it just published.

A pass that finds nothing costs the same provider requests as one that finds a lot, and the
providers' quotas are the scarce thing (Bling's 120,000/day is shared with the account's other
apps). So the interval stretches while a source is idle, up to a bound chosen to keep idle use
within its share, and snaps back to the fast interval on the first change, or on a webhook
delivery for the same source (changes are flowing; the poll is the safety net behind the push).

Pollers re-read an overlap window on every pass (clocks drift, transactions commit late), so
the same change is seen several times. The event id is deterministic, so consumers would drop
the repeats anyway; remembering recently published ids here saves the broker and the consumers
that work.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from contracts.envelope import Envelope
from infra import metrics
from infra.bus.poll_batches import one_poll_pass
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


# How often a waiting loop asks whether a webhook arrived for its source (a local store read, no
# provider request): the snap-back on a push is at most this late.
NUDGE_CHECK_SECONDS = 1.0
# the store key prefix (cursors table) under which each loop leaves its interval and next pass, for `status`
SCHEDULE_PREFIX = "poll.schedule."


@dataclass
class AdaptiveInterval:
    """Seconds until the next pass: `base` while changes flow, times `stretch` after each idle
    pass, never more than `bound`; back to `base` on the first pass that publishes (or a nudge).

    Doubling reaches a 32 s bound from 5 s in three idle passes, so a burst of changes a few seconds
    apart is still polled fast, while a quiet source costs at most one pass per `bound`.
    """

    base: float
    bound: float
    stretch: float = 2.0
    current: float = field(init=False)

    def __post_init__(self) -> None:
        self.bound = max(self.bound, self.base)
        self.current = self.base

    def after_pass(self, published: int) -> float:
        self.current = self.base if published else min(self.bound, self.current * self.stretch)
        return self.current

    def snap_back(self) -> float:
        self.current = self.base
        return self.current

    @classmethod
    def fixed(cls, seconds: float) -> AdaptiveInterval:
        return cls(seconds, seconds)


def publish_new(publisher: EventPublisher, recent: RecentlyPublished, envelope: Envelope) -> bool:
    """Publish (with confirm) unless this exact event went out recently; True if published."""
    if envelope.event_id in recent:
        return False
    publisher.publish(envelope)
    recent.add(envelope.event_id)
    return True


# How far the provider's clock may be from ours, for `quiet_since`.
CLOCK_SKEW = timedelta(seconds=60)


def quiet_since(
    cursor: datetime | None, overlap: timedelta, last_pass_started: datetime | None
) -> datetime | None:
    """The earliest change stamp a pass must still ask for.

    The cursor is the newest stamp seen, so `cursor - overlap` alone keeps re-listing the last
    overlap of changes on every idle pass, forever (after a burst of 200 changes: two pages a
    pass). But a change committed after the previous successful pass started is stamped at most
    `overlap` before its commit, and one committed earlier was listed by that pass; so a stamp
    older than (previous pass start - overlap - clock skew) has been seen. The later of the two
    bounds is safe and, once a source has been quiet for a while, lists nothing.
    """
    if cursor is None:
        return None
    since = cursor - overlap
    if last_pass_started is not None:
        since = max(since, last_pass_started - overlap - CLOCK_SKEW)
    return since


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

    def keep(self, stop: threading.Event) -> None:
        """Renew the lease (on a standby: take it over once it ran out) every third of its life,
        apart from the passes: an idle poller waits up to its stretched bound (minutes with
        webhooks), far longer than the lease should live, and a standby must take over within
        the lease, not within the longest idle wait."""
        while not stop.wait(self.ttl_seconds / 3):
            try:
                self.held()
            except Exception as exc:  # the store being away: the next tick tries again
                log.warning("producer lease not renewed", owner=self.owner, error=scrub(str(exc)))


class WebhookNudge:
    """True once per webhook delivery for one source since the last look (read from the store's
    "heard" table, which the receiver writes in its own process: the signal crosses processes)."""

    def __init__(self, store: Any, tenant: str, stream: str, channel: str = "webhook") -> None:
        self.store, self.tenant, self.stream, self.channel = store, tenant, stream, channel
        self._seen: Any = self._last()

    def _last(self) -> Any:
        return self.store.last_heard(self.tenant).get(self.stream, {}).get(self.channel)

    def __call__(self) -> bool:
        return self.moved(self._last())

    def moved(self, last: Any) -> bool:
        """True when `last` (this source's newest webhook time, read here or with every
        tenant's at once) is newer than the one seen before."""
        if last is None or last == self._seen:
            return False
        self._seen = last
        return True


class PassNotes:
    """What the poll passes of many tenants leave for `status` (when each stream was last heard
    from by poll, each poller's interval and next pass), kept here and written for all of them in
    one transaction every `flush` (the shared scheduler's thread): the newest note of each wins.
    Per pass, these were two store transactions, a quarter of an idle pass's cost."""

    def __init__(self, store: Any, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store, self.clock = store, clock
        self._lock = threading.Lock()
        self._heard: dict[tuple[str, str], datetime] = {}
        self._schedules: dict[tuple[str, str], str] = {}

    def heard(self, tenant: str) -> Callable[[str], None]:
        def note(stream: str) -> None:
            with self._lock:
                self._heard[(tenant, stream)] = self.clock()

        return note

    def scheduled(self, tenant: str) -> Callable[[str, float], None]:
        def note(poller: str, interval: float) -> None:
            value = _schedule_value(self.clock(), interval)
            with self._lock:
                self._schedules[(tenant, SCHEDULE_PREFIX + poller)] = value

        return note

    def flush(self) -> int:
        """Write what was noted since the last flush; returns how many notes. On failure they are
        kept for the next flush (newer notes of the same key still win)."""
        with self._lock:
            heard, schedules = self._heard, self._schedules
            self._heard, self._schedules = {}, {}
        try:
            self.store.note_passes(
                [(t, stream, "poll", at) for (t, stream), at in heard.items()],
                [(t, name, value) for (t, name), value in schedules.items()],
            )
        except BaseException:
            with self._lock:
                self._heard = {**heard, **self._heard}
                self._schedules = {**schedules, **self._schedules}
            raise
        return len(heard) + len(schedules)

    def keep(self, stop: threading.Event, every_seconds: float = 2.0) -> None:
        while not stop.wait(every_seconds):
            try:
                self.flush()
            except Exception as exc:  # status is informative: never stop polling for it
                log.warning("poll notes not written; kept for the next flush", error=scrub(str(exc)))
        with contextlib.suppress(Exception):
            self.flush()


def _schedule_value(now: datetime, interval: float) -> str:
    next_pass = now + timedelta(seconds=interval)
    return json.dumps({"interval_seconds": round(interval, 3), "next_pass_at": next_pass.isoformat()})


class ScheduleRecord:
    """Leaves each loop's current interval and next pass in the store, where `status` reads it."""

    def __init__(self, store: Any, tenant: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store, self.tenant, self.clock = store, tenant, clock

    def __call__(self, poller: str, interval: float) -> None:
        self.store.set_cursor(self.tenant, SCHEDULE_PREFIX + poller, _schedule_value(self.clock(), interval))


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
    interval: float | AdaptiveInterval,
    stop: threading.Event,
    leader: LeaderLease | None = None,
    heard: Callable[[str], None] | None = None,
    gate: TenantGate | None = None,
    health: PollHealth | None = None,
    *,
    nudged: Callable[[], bool] | None = None,
    scheduled: Callable[[str, float], None] | None = None,
    wait: Callable[[float], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll until stopped; a failed pass is logged and retried on the next tick, never fatal.

    `heard(poller.name)` is called after every pass the source answered, so `status` can show
    when each source was last heard from by poll (next to "by webhook"). With a `gate`, nothing is
    polled while the tenant is paused, and an error that condemns the whole account pauses it.
    `health` records each completed pass (or standby tick) and each failure, for `/readyz`: never
    fatal, but a loop that keeps failing must not look ready. It is told the current interval, so
    "no pass for 3 intervals" follows the stretched interval instead of flagging a quiet source.

    A float `interval` is fixed; an `AdaptiveInterval` stretches while idle. `nudged()` (asked
    every NUDGE_CHECK_SECONDS while waiting) says a webhook arrived for this source: the wait ends
    and the interval snaps back. `scheduled(name, seconds)` is told the interval before each wait
    (for `status`). `wait` and `clock` are injectable so tests drive the loop without sleeping.
    """
    schedule = interval if isinstance(interval, AdaptiveInterval) else AdaptiveInterval.fixed(interval)
    wait = wait or stop.wait
    while not stop.is_set():
        started = clock()
        held = leader.held if leader is not None else None
        pause, polled = poll_pass(poller, schedule, held=held, heard=heard, gate=gate, health=health)
        if polled and scheduled is not None:
            try:
                scheduled(poller.name, pause)
            except Exception as exc:  # status is informative: never stop polling for it
                log.warning("poll schedule not recorded", poller=poller.name, error=scrub(str(exc)))
        _wait(wait, max(0.0, pause - (clock() - started)) if polled else pause, nudged, stop, schedule)


def poll_pass(
    poller: Poller,
    schedule: AdaptiveInterval,
    *,
    held: Callable[[], bool] | None = None,
    heard: Callable[[str], None] | None = None,
    gate: TenantGate | None = None,
    health: PollHealth | None = None,
) -> tuple[float, bool]:
    """One pass of one poller, or a standby tick (`held()` says this process holds the tenant's
    lease); returns (seconds until the next one, whether a pass was made or tried).

    The one body of every way of polling: a loop per poller (`run_poll_loop`) or a bounded pool
    of threads sharing every tenant's pollers (`producers.poll_scheduler`). A failed pass is
    logged and retried on the next tick, never fatal.
    """
    pause = schedule.current
    try:
        # inside the try: a database error in the lease check is retried next tick, like any
        standby = held is not None and not held()
        if standby or (gate is not None and not gate.is_open()):
            if health is not None:
                health.passed(standby=standby)
            return pause, False
        with one_poll_pass():  # a pass that publishes many events one by one is a batch too
            published = poller.poll_once()
        pause = schedule.after_pass(published)
        metrics.observe_poll(poller.name, published)
        if health is not None:
            health.expect_every(pause)
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
    return pause, True


def _wait(
    wait: Callable[[float], bool],
    seconds: float,
    nudged: Callable[[], bool] | None,
    stop: threading.Event,
    schedule: AdaptiveInterval,
) -> None:
    """Wait `seconds`, or less if a webhook nudges this source: the interval snaps back and the next
    pass comes at most the fast interval after the push (the push brought the change; the pass
    soon after catches whatever a lost or partial notification left behind)."""
    if stop.is_set():
        return
    if nudged is None:
        wait(seconds)
        return
    remaining = seconds
    while remaining > 0 and not stop.is_set():
        step = min(NUDGE_CHECK_SECONDS, remaining)
        if wait(step):
            return
        remaining -= step
        try:
            if nudged():
                remaining = min(remaining, schedule.snap_back())
        except Exception as exc:  # the store being away must not stop the loop
            log.warning("webhook nudge check failed", error=scrub(str(exc)))
