"""Heartbeats and the per-minute flow history (auvo_bling/heartbeat.py, infra/store/heartbeats.py),
on SQLite and PostgreSQL: beats, staleness, the clean stop, additive minutes, pruning by age."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from auvo_bling.heartbeat import FlowTally, Pulse
from infra.store import FlowMinute, Store
from infra.store.heartbeats import BLING_FLOW, LATENCY_BOUNDS
from infra.store.retention import prune
from tests.unit import test_store_retention

store = test_store_retention.store  # the fixture: a store on SQLite and on PostgreSQL
NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
FLOW = "customers.auvo_to_bling"
EMPTY = (0,) * (len(LATENCY_BOUNDS) + 1)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def pulse(store: Store, clock: Clock, tally: FlowTally, name: str = "host:1") -> Pulse:
    return Pulse(store, "consume", 2, ["acme"], tally, lambda: {"acme": 41}, clock=clock, process=name)


def test_a_beat_says_who_serves_what_and_the_last_event(store: Store) -> None:
    clock, tally = Clock(NOW), FlowTally()
    tally.note("acme", FLOW, "ev-1", NOW - timedelta(seconds=3), NOW)
    pulse(store, clock, tally).beat()
    [beat] = store.process_beats()
    assert (beat.process, beat.role, beat.threads, beat.tenants) == ("host:1", "consume", 2, ("acme",))
    assert (beat.last_flow, beat.last_event_id, beat.last_event_at) == (FLOW, "ev-1", NOW)
    assert not beat.is_stale(NOW + timedelta(seconds=15), 5.0, 3.0)
    assert beat.is_stale(NOW + timedelta(seconds=16), 5.0, 3.0)


def test_the_next_beat_replaces_the_row_and_a_clean_stop_removes_it(store: Store) -> None:
    clock, tally = Clock(NOW), FlowTally()
    p = pulse(store, clock, tally)
    pulse(store, clock, FlowTally(), name="other:2").beat()  # a process that died: stays, goes stale
    p.beat()
    clock.at = NOW + timedelta(seconds=5)
    p.beat()
    beats = {b.process: b for b in store.process_beats()}
    assert beats["host:1"].beat_at == NOW + timedelta(seconds=5)
    assert beats["host:1"].started_at == NOW
    p.finish()
    assert [b.process for b in store.process_beats()] == ["other:2"]


def test_minutes_add_up_across_processes_and_carry_the_latency_buckets(store: Store) -> None:
    clock = Clock(NOW)
    first, second = FlowTally(), FlowTally()
    first.note("acme", FLOW, "a", NOW - timedelta(seconds=0.5), NOW)
    first.note("acme", FLOW, "b", NOW - timedelta(seconds=10), NOW)
    second.note("acme", FLOW, "c", NOW - timedelta(seconds=10), NOW + timedelta(seconds=5))
    pulse(store, clock, first).flush()
    pulse(store, clock, second, name="host:2").flush()
    rows = {m.flow: m for m in store.flow_minutes_since(NOW - timedelta(minutes=5), tenant="acme")}
    contacts = rows[FLOW]
    assert contacts.minute == NOW.replace(second=0)
    assert contacts.events == 3
    assert contacts.latency_buckets == (1, 0, 2, 0, 0, 0, 0)
    assert contacts.latency_quantile(0.5) == 15.0
    assert contacts.latency_quantile(0.2) == 1.0
    assert rows[BLING_FLOW].bling_calls_day == 41
    assert first.drain() == [] and second.drain() == []  # flushed counts are not written twice


def test_a_failed_flush_keeps_its_counts_for_the_next(store: Store) -> None:
    tally = FlowTally()
    tally.note("acme", FLOW, "a", NOW, NOW)
    broken = pulse(store, Clock(NOW), tally)
    broken.store = None  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        broken.flush()
    [kept] = tally.drain()
    assert kept.events == 1


def test_old_minutes_are_pruned_by_age_and_recent_ones_kept(store: Store) -> None:
    old = FlowMinute("acme", "f", NOW.replace(second=0) - timedelta(days=8), 1, EMPTY)
    recent = FlowMinute("acme", "f", NOW.replace(second=0) - timedelta(days=6), 2, EMPTY)
    store.add_flow_minutes([old, recent])
    dry = prune(store, retention_days=30, now=NOW, dry_run=True, metrics_history_days=7)
    assert dry.removed["flow_minutes"] == 1
    report = prune(store, retention_days=30, now=NOW, metrics_history_days=7)
    assert report.removed["flow_minutes"] == 1
    assert [m.events for m in store.flow_minutes_since(NOW - timedelta(days=30))] == [2]


def test_the_loop_beats_and_flushes_the_minute_that_ended(store: Store) -> None:
    clock, tally = Clock(NOW), FlowTally()
    tally.note("acme", FLOW, "a", NOW, NOW)
    p = pulse(store, clock, tally)
    p.interval_seconds = 0.01
    stop = threading.Event()
    thread = threading.Thread(target=p.run, args=(stop,))
    thread.start()
    wait = threading.Event()
    wait.wait(0.1)
    assert store.flow_minutes_since(NOW - timedelta(minutes=5)) == []  # the minute is not over yet
    clock.at = NOW + timedelta(minutes=1)
    deadline = 100
    while not store.flow_minutes_since(NOW - timedelta(minutes=5)) and deadline:
        wait.wait(0.05)
        deadline -= 1
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert [m.events for m in store.flow_minutes_since(NOW - timedelta(minutes=5)) if m.flow == FLOW] == [1]
    assert [b.process for b in store.process_beats()] == ["host:1"]


def test_processes_flushing_a_thousand_companies_minutes_at_once_neither_collide_nor_lose(
    store: Store,
) -> None:
    """Two processes serving the same thousand companies flush the same minute's rows at the same
    time (the `bling` row of every company from each): before, one lost the insert race on the
    first row and its whole flush failed (UniqueViolation), every minute."""
    minute = NOW.replace(second=0)
    tenants = [f"t{i:04d}" for i in range(1000)]

    def rows(calls: int) -> list[FlowMinute]:
        out = [FlowMinute(t, BLING_FLOW, minute, 0, EMPTY, calls) for t in tenants]
        out += [FlowMinute(t, FLOW, minute, 1, (1, 0, 0, 0, 0, 0, 0)) for t in tenants[:300]]
        out.append(FlowMinute("t0001", FLOW, minute, 2, (0, 2, 0, 0, 0, 0, 0)))  # twice in one flush
        return out

    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def flush(calls: int) -> None:
        try:
            start.wait()
            store.add_flow_minutes(rows(calls))
        except BaseException as exc:
            errors.append(exc)

    flushers = [threading.Thread(target=flush, args=(n,)) for n in (7, 9)]
    for thread in flushers:
        thread.start()
    for thread in flushers:
        thread.join(60)
    assert errors == []
    written = store.flow_minutes_since(minute)
    bling = {m.tenant: m.bling_calls_day for m in written if m.flow == BLING_FLOW}
    assert len(bling) == 1000 and set(bling.values()) == {9}  # the larger count of the day
    flows = {m.tenant: m for m in written if m.flow == FLOW}
    assert len(flows) == 300 and flows["t0002"].events == 2  # one from each process
    assert flows["t0001"].events == 6 and flows["t0001"].latency_buckets == (2, 4, 0, 0, 0, 0, 0)
