"""A running process's pulse in the store: its heartbeat every few seconds, and when each minute ends the
flow history it gathered in memory (events handled, change-to-write latency, the day's Bling calls).

Everything a consumer thread does per event is `FlowTally.note` (a dict update under a lock): the
store sees one upsert per beat and one small transaction per minute, whatever the event rate.
"""

from __future__ import annotations

import os
import socket
import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from infra.store import FlowMinute, ProcessBeat, Store
from infra.store.heartbeats import BLING_FLOW, LATENCY_BOUNDS, minute_of

log = structlog.get_logger("heartbeat")


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def role_of(producers: bool, consumers: bool) -> str:
    if producers and consumers:
        return "run"
    return "produce" if producers else "consume"


@dataclass
class _Minute:
    events: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS) + 1))


class FlowTally:
    """Events handled per tenant, flow and minute, kept in memory until the next flush."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[tuple[str, str, datetime], _Minute] = {}
        self.last: tuple[str, str, datetime] | None = None  # (flow, event_id, at)

    def note(self, tenant: str, flow: str, event_id: str, occurred_at: datetime, done_at: datetime) -> None:
        latency = max(0.0, (done_at - occurred_at).total_seconds())
        key = (tenant, flow, minute_of(done_at))
        with self._lock:
            minute = self._minutes.setdefault(key, _Minute())
            minute.events += 1
            minute.buckets[bisect_left(LATENCY_BOUNDS, latency)] += 1
            self.last = (flow, event_id, done_at)

    def drain(self) -> list[FlowMinute]:
        with self._lock:
            taken, self._minutes = self._minutes, {}
        return [
            FlowMinute(tenant, flow, minute, m.events, tuple(m.buckets))
            for (tenant, flow, minute), m in sorted(taken.items())
        ]

    def put_back(self, minutes: list[FlowMinute]) -> None:
        """A flush that failed (the store away) keeps its counts for the next one."""
        with self._lock:
            for m in minutes:
                into = self._minutes.setdefault((m.tenant, m.flow, m.minute), _Minute())
                into.events += m.events
                into.buckets = [a + b for a, b in zip(into.buckets, m.latency_buckets, strict=True)]


@dataclass
class Pulse:
    """The beat-and-flush loop of one process (a daemon thread; `finish` on a clean stop)."""

    store: Store
    role: str
    threads: int
    tenants: Sequence[str]
    tally: FlowTally
    bling_calls: Callable[[], dict[str, int]]  # tenant -> Bling calls of its day so far
    interval_seconds: float = 5.0
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    process: str = field(default_factory=process_name)

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    def beat(self) -> None:
        last = self.tally.last
        self.store.beat(
            ProcessBeat(
                process=self.process,
                role=self.role,
                threads=self.threads,
                tenants=tuple(self.tenants),
                started_at=self.started_at,
                beat_at=self.clock(),
                last_flow=last[0] if last else None,
                last_event_id=last[1] if last else None,
                last_event_at=last[2] if last else None,
            )
        )

    def flush(self) -> None:
        now = minute_of(self.clock())
        minutes = self.tally.drain()
        try:
            calls = self.bling_calls()
        except Exception:
            log.warning("bling calls of the day not read for the history", process=self.process)
            calls = {}
        minutes += [
            FlowMinute(t, BLING_FLOW, now, 0, (0,) * (len(LATENCY_BOUNDS) + 1), n) for t, n in calls.items()
        ]
        try:
            self.store.add_flow_minutes(minutes)
        except Exception:
            self.tally.put_back([m for m in minutes if m.flow != BLING_FLOW])
            raise

    def run(self, stop: threading.Event) -> None:
        """Beat until `stop`; a failing beat is logged and tried again (never ends the process).

        The history is flushed when the minute turns (at most once a minute): a closed minute
        reaches the charts within one beat of its end."""
        flushed_minute = minute_of(self.clock())
        while True:
            try:
                self.beat()
                minute = minute_of(self.clock())
                if minute != flushed_minute:
                    flushed_minute = minute
                    self.flush()
            except Exception:
                log.exception("heartbeat not written; next beat retries", process=self.process)
            if stop.wait(self.interval_seconds):
                return

    def finish(self) -> None:
        """A clean stop: the last minute's history is kept and the process leaves the list."""
        try:
            self.flush()
            self.store.forget_process(self.process)
        except Exception:
            log.exception("heartbeat not cleared at stop; it will show as stale", process=self.process)
