"""Adaptive poll intervals: fast while changes flow, stretching while idle, snapping back on a change
or on a webhook for the same source; `/readyz` and `status` follow the stretched interval.

The loop is driven by an injected `wait` (a fake clock that advances by what the loop asks to wait),
so these tests never sleep.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.health import PollHealth
from infra.settings import Settings
from infra.store import Store
from producers.polling import SCHEDULE_PREFIX, AdaptiveInterval, ScheduleRecord, WebhookNudge, run_poll_loop


class FakeTime:
    """A monotonic clock that only moves when the loop waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.on_wait: Callable[[float], None] | None = None

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        if self.on_wait is not None:
            self.on_wait(self.now)
        return False


class ScriptedSource:
    """Publishes `changes[n]` on pass n (0 afterwards) and stops the loop after `passes` passes."""

    name = "auvo.customers"

    def __init__(self, stop: threading.Event, time: FakeTime, changes: dict[int, int], passes: int) -> None:
        self.stop, self.time, self.changes, self.passes = stop, time, changes, passes
        self.pass_times: list[float] = []

    def poll_once(self) -> int:
        self.pass_times.append(self.time.now)
        if len(self.pass_times) >= self.passes:
            self.stop.set()
        return self.changes.get(len(self.pass_times), 0)


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


def test_the_interval_doubles_while_idle_up_to_the_bound_and_snaps_back_on_a_change() -> None:
    schedule = AdaptiveInterval(5.0, 32.0)
    assert [schedule.after_pass(0) for _ in range(5)] == [10.0, 20.0, 32.0, 32.0, 32.0]
    assert schedule.after_pass(3) == 5.0
    assert schedule.after_pass(0) == 10.0
    assert AdaptiveInterval(5.0, 1.0).bound == 5.0  # a bound below the fast interval means "fixed"


def test_the_loop_stretches_while_idle_and_polls_fast_again_after_the_first_change() -> None:
    time, stop = FakeTime(), threading.Event()
    source = ScriptedSource(stop, time, changes={1: 4, 6: 1}, passes=9)
    run_poll_loop(source, AdaptiveInterval(5.0, 32.0), stop, wait=time.wait, clock=time.clock)
    # pass 1 published: fast; then idle 10, 20, 32, 32; pass 6 published: fast again, then stretching
    assert gaps(source.pass_times) == [5.0, 10.0, 20.0, 32.0, 32.0, 5.0, 10.0, 20.0]


def test_a_fixed_interval_never_stretches() -> None:
    time, stop = FakeTime(), threading.Event()
    source = ScriptedSource(stop, time, changes={}, passes=5)
    run_poll_loop(source, 5.0, stop, wait=time.wait, clock=time.clock)
    assert gaps(source.pass_times) == [5.0, 5.0, 5.0, 5.0]


def test_a_webhook_for_the_source_snaps_the_stretched_interval_back() -> None:
    time, stop = FakeTime(), threading.Event()
    source = ScriptedSource(stop, time, changes={}, passes=7)
    pushes = {70.0}  # a notification arrives at t=70, while the loop waits out a 32 s interval

    def nudged() -> bool:
        return any(time.now - 1.0 < at <= time.now for at in pushes)

    run_poll_loop(source, AdaptiveInterval(5.0, 32.0), stop, wait=time.wait, clock=time.clock, nudged=nudged)
    # passes at 0, 10, 30, 62; the push at 70 makes the next pass come 5 s later (75), not at 94
    assert source.pass_times[:5] == [0.0, 10.0, 30.0, 62.0, 75.0]
    # and the interval starts stretching again from the fast one
    assert gaps(source.pass_times)[4:] == [10.0, 20.0]
    assert max(time.waits) <= 1.0  # while nudgeable, it waits in short slices (local checks only)


def test_without_a_webhook_the_stretched_interval_is_kept() -> None:
    time, stop = FakeTime(), threading.Event()
    source = ScriptedSource(stop, time, changes={}, passes=5)
    run_poll_loop(
        source, AdaptiveInterval(5.0, 32.0), stop, wait=time.wait, clock=time.clock, nudged=lambda: False
    )
    assert source.pass_times == [0.0, 10.0, 30.0, 62.0, 94.0]


def test_readiness_follows_the_stretched_interval() -> None:
    time, stop = FakeTime(), threading.Event()
    health = PollHealth("default/auvo.customers", 5.0, clock=time.clock)
    source = ScriptedSource(stop, time, changes={}, passes=4)
    run_poll_loop(source, AdaptiveInterval(5.0, 32.0), stop, health=health, wait=time.wait, clock=time.clock)
    assert health.stale_after == 96.0  # 3 x the 32 s it now waits, not 3 x 5 s
    time.now += 95
    assert health.reason() is None  # a quiet source polled every 32 s is not stuck
    time.now += 2
    assert health.reason() is not None  # three stretched intervals without a pass still are


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")


def test_the_webhook_nudge_fires_once_per_delivery_read_from_the_store(store: Store) -> None:
    nudge = WebhookNudge(store, "default", "auvo.customers")
    assert nudge() is False
    store.note_heard("default", "auvo.customers", "poll")  # our own poll is not a push
    store.note_heard("default", "auvo.tasks", "webhook")  # another source's push is not ours
    assert nudge() is False
    store.note_heard("default", "auvo.customers", "webhook")
    assert nudge() is True
    assert nudge() is False  # the same delivery nudges once


def test_the_schedule_is_left_in_the_store_for_status(store: Store) -> None:
    at = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    ScheduleRecord(store, "default", clock=lambda: at)("bling.contacts", 32.0)
    value = json.loads(store.cursor("default", SCHEDULE_PREFIX + "bling.contacts") or "{}")
    assert value == {"interval_seconds": 32.0, "next_pass_at": (at + timedelta(seconds=32)).isoformat()}


def test_pushed_sources_get_the_longer_bound_only_with_webhooks_on() -> None:
    off = Settings(_env_file=None)  # type: ignore[call-arg]
    assert off.poll_bounds(pushed=True) == off.poll_bounds(pushed=False) == (5.0, 32.0)
    on = Settings(webhooks={"enabled": True})  # type: ignore[arg-type]
    assert on.poll_bounds(pushed=True) == (5.0, 300.0)
    assert on.poll_bounds(pushed=False) == (5.0, 32.0)  # Bling contatos, quotations: no webhook


def test_status_shows_each_pollers_interval_and_next_pass_apart_from_the_cursors(store: Store) -> None:
    from types import SimpleNamespace

    from auvo_bling.status import _pollers, _schedule

    at = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    store.set_cursor("default", "auvo.customers.dateLastUpdate", "2026-12-02T01:59:00")
    ScheduleRecord(store, "default", clock=lambda: at)("auvo.customers", 32.0)
    app = SimpleNamespace(store=store, tenant="default")
    later = at + timedelta(seconds=12)
    assert _schedule(app, later) == [  # type: ignore[arg-type]
        {
            "poller": "auvo.customers",
            "interval_seconds": 32.0,
            "next_pass_at": "2026-12-02T05:00:32+00:00",
            "seconds_to_next_pass": 20.0,
        }
    ]
    assert [p["cursor"] for p in _pollers(app, later)] == ["auvo.customers.dateLastUpdate"]  # type: ignore[arg-type]
