"""Poll shards and the poll scheduler: producer processes share the tenants' polling fairly, take
over a stopped one's shards, and a bounded pool of threads runs every tenant's pollers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from infra.store import Store
from producers.poll_scheduler import PollScheduler, PollTask
from producers.poll_shards import PollShards, shard_of
from producers.polling import AdaptiveInterval


def _store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'shards.sqlite3'}")


def test_two_processes_split_the_shards_and_one_takes_all_when_the_other_stops(tmp_path: Path) -> None:
    store = _store(tmp_path)
    # owners on another host: not judged by this machine's pids
    first = PollShards(store, 8, ttl_seconds=30, owner="host-a:1")
    second = PollShards(store, 8, ttl_seconds=30, owner="host-b:2")
    assert len(first.renew()) == 8  # alone: every shard
    assert second.renew() == frozenset()  # all taken; its presence makes the first give some up
    assert len(first.renew()) == 4
    assert len(second.renew()) == 4
    assert first.held.isdisjoint(second.held)
    tenants = [f"t{i:03d}" for i in range(200)]
    # every tenant is polled by exactly one of them
    assert all(first.holds(t) != second.holds(t) for t in tenants)
    first.release()
    assert len(second.renew()) == 8
    store.dispose()


def test_a_dead_processes_shards_are_taken_once_its_leases_run_out(tmp_path: Path) -> None:
    store = _store(tmp_path)
    dead = PollShards(store, 4, ttl_seconds=0.5, owner="host-a:1")
    survivor = PollShards(store, 4, ttl_seconds=30, owner="host-b:2")
    assert len(dead.renew()) == 4
    assert survivor.renew() == frozenset()
    time.sleep(0.6)  # the dead one renews no more
    assert len(survivor.renew()) == 4
    store.dispose()


def test_the_shard_of_a_tenant_does_not_depend_on_the_process() -> None:
    assert shard_of("acme", 64) == shard_of("acme", 64)
    assert len({shard_of(f"t{i}", 64) for i in range(1000)}) == 64


class CountingPoller:
    def __init__(self, name: str) -> None:
        self.name = name
        self.passes = 0
        self.threads: set[str] = set()

    def poll_once(self) -> int:
        self.passes += 1
        self.threads.add(threading.current_thread().name)
        return 0


def test_a_bounded_pool_runs_every_tenants_pollers_and_skips_the_tenants_not_held() -> None:
    stop = threading.Event()
    held = {f"t{i}" for i in range(0, 40, 2)}  # the even tenants' shards are this process's
    scheduler = PollScheduler(lambda tenant: tenant in held, threads=3, stop=stop)
    pollers = {f"t{i}": CountingPoller("auvo.customers") for i in range(40)}
    scheduler.add(
        [PollTask(t, p, AdaptiveInterval.fixed(0.05)) for t, p in pollers.items()],
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and min(pollers[t].passes for t in held) < 3:
            time.sleep(0.05)
        assert min(pollers[t].passes for t in held) >= 3
        assert all(p.passes == 0 for t, p in pollers.items() if t not in held)
        used = set().union(*(p.threads for p in pollers.values()))
        assert used <= {"poller-0", "poller-1", "poller-2"}  # 40 tenants, 3 threads
        # a tenant taken out is polled no more, once its pass under way is over
        scheduler.remove("t0")
        before = pollers["t0"].passes
        time.sleep(0.3)
        assert pollers["t0"].passes == before
        assert "t0" not in scheduler.tenants()
    finally:
        stop.set()
        scheduler.join(5)


def test_a_nudge_brings_a_stretched_pollers_pass_forward() -> None:
    stop = threading.Event()
    scheduler = PollScheduler(lambda tenant: True, threads=1, stop=stop)
    poller = CountingPoller("auvo.tasks")
    schedule = AdaptiveInterval(0.05, 60.0)
    schedule.current = 60.0  # stretched: the next pass would be a minute away
    scheduler.add([PollTask("acme", poller, schedule)])
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while poller.passes < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert poller.passes == 1
        time.sleep(0.2)
        assert poller.passes == 1  # waiting out its interval
        scheduler.nudge("acme", "auvo.tasks")
        deadline = time.monotonic() + 5
        while poller.passes < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert poller.passes == 2
    finally:
        stop.set()
        scheduler.join(5)


def test_shards_taken_over_wake_their_tenants_pollers_at_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    stop = threading.Event()
    held: set[str] = set()
    woken: list[str] = []
    scheduler = PollScheduler(lambda tenant: tenant in held, threads=1, stop=stop)
    poller = CountingPoller("auvo.customers")
    schedule = AdaptiveInterval(0.05, 60.0)
    schedule.current = 60.0  # a standby tick waits the stretched interval
    scheduler.add([PollTask("acme", poller, schedule)])
    scheduler.start()

    def gained(is_new: Callable[[str], bool]) -> None:
        woken.extend(t for t in ("acme", "beta") if is_new(t))
        held.update(woken)
        scheduler.wake(is_new)

    other = PollShards(store, 1, ttl_seconds=30, owner="host-b:2")
    mine = PollShards(store, 1, ttl_seconds=30, owner="host-a:1", on_gained=gained)
    try:
        assert len(other.renew()) == 1
        assert mine.renew() == frozenset() and woken == []
        time.sleep(0.2)
        assert poller.passes == 0  # standby: acme's shard is the other process's
        other.release()
        assert len(mine.renew()) == 1
        assert woken == ["acme", "beta"]  # one shard: every tenant is in it
        deadline = time.monotonic() + 5
        while poller.passes < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert poller.passes == 1  # polled now, not after its 60 s standby wait
    finally:
        stop.set()
        scheduler.join(5)
        store.dispose()


def test_webhooks_of_every_tenant_are_looked_at_in_one_read(tmp_path: Path) -> None:
    """A webhook for one of many tenants' pushed sources brings that poller's pass forward; the
    scheduler asks the store once per look for all of them, never once per pushed poller."""
    from producers.polling import WebhookNudge

    store = _store(tmp_path)
    stop = threading.Event()
    reads = [0]

    def heard() -> dict:
        reads[0] += 1
        return store.heard_by("webhook")

    scheduler = PollScheduler(lambda tenant: True, threads=2, stop=stop, webhooks_heard=heard)
    pollers = {f"t{i:02d}": CountingPoller("auvo.customers") for i in range(30)}
    for tenant, poller in pollers.items():
        schedule = AdaptiveInterval(0.05, 60.0)
        schedule.current = 60.0
        nudge = WebhookNudge(store, tenant, "auvo.customers")
        scheduler.add([PollTask(tenant, poller, schedule, nudged=nudge)])
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while any(p.passes < 1 for p in pollers.values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        looks_before, started = reads[0], time.monotonic()
        store.note_heard("t17", "auvo.customers", "webhook")
        deadline = time.monotonic() + 5
        while pollers["t17"].passes < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pollers["t17"].passes == 2
        assert all(p.passes == 1 for t, p in pollers.items() if t != "t17")
        elapsed = time.monotonic() - started
        # the batch read found it: about one read a second for the 30 tenants, not 30
        assert 1 <= reads[0] - looks_before <= elapsed / 0.5 + 2
    finally:
        stop.set()
        scheduler.join(5)
        store.dispose()
