"""Running producers and consumers as threads of one process, and stopping them cleanly.

`run`, `produce`, `consume` and the demo all start the same pieces; only which ones differ.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from auvo_bling.wiring import App, start_thread
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker
from infra.health import PollHealth, Report, assess
from infra.store.retention import run_pruner
from infra.tenant_gate import TenantGate
from producers.polling import (
    AdaptiveInterval,
    LeaderLease,
    Poller,
    ScheduleRecord,
    WebhookNudge,
    run_poll_loop,
)

log = structlog.get_logger("runtime")


@dataclass
class Running:
    """What one process started; `stop()` ends it and waits for the threads."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    workers: list[QueueWorker] = field(default_factory=list)
    pollers: list[Poller] = field(default_factory=list)
    publishers: list[Publisher] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    leaders: list[LeaderLease] = field(default_factory=list)
    consumers: list[TenantConsumers] = field(default_factory=list)
    poll_health: list[PollHealth] = field(default_factory=list)
    gates: list[TenantGate] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for group in self.consumers:
            group.stop_workers(timeout, final=True)
        for thread in self.threads:
            thread.join(timeout)
        alive = [t.name for g in self.consumers for _, t in g.stopped if t.is_alive()]
        alive += [t.name for t in self.threads if t.is_alive()]
        if alive:
            log.warning("threads still busy after stop", threads=alive, waited_seconds=timeout)
        for leader in self.leaders:
            leader.release()  # a standby producer takes over at once

    def readiness(self) -> Report:
        """Why this process is not doing its job, if it is not (served as `/readyz`)."""
        consumers = {group.app.tenant: list(group.current) for group in self.consumers}
        return assess(consumers=consumers, pollers=self.poll_health, gates=self.gates)

    def published(self) -> int:
        return sum(p.published for p in self.publishers)

    def consumer_stats(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for worker in self.workers:
            for key, value in worker.stats.items():
                total[key] = total.get(key, 0) + value
        return total


class TenantConsumers:
    """One tenant's consumer threads: stopped while the tenant is paused, started when it resumes.

    Stopping (rather than parking every message) leaves the tenant's backlog in its own queues,
    untouched, while the other tenants go on; only the few messages already in flight when the
    pause began are parked in the tenant's DLQ, and `tenants resume` replays them.
    """

    def __init__(self, app: App, threads: int, running: Running, *, check_seconds: float = 1.0) -> None:
        self.app = app
        self.running = running
        self.check_seconds = check_seconds
        # one publisher per thread slot, kept across pauses (a worker needs one for retries)
        self.publishers = [app.publisher() for _ in range(threads)]
        running.publishers.extend(self.publishers)
        self.current: list[tuple[QueueWorker, threading.Thread]] = []
        self._lock = threading.Lock()
        self._closed = False  # after the final stop, a late "resumed" must not start anything
        self.stopped: list[tuple[QueueWorker, threading.Thread]] = []

    def start_workers(self) -> None:
        with self._lock:
            if self.current or self._closed:
                return
            for i, publisher in enumerate(self.publishers):
                worker = self.app.worker(publisher)
                self.running.workers.append(worker)
                thread = start_thread(worker.run, f"consumer-{self.app.tenant}-{i}")
                self.current.append((worker, thread))

    def stop_workers(self, timeout: float = 10.0, *, final: bool = False) -> None:
        with self._lock:
            stopping, self.current = self.current, []
            self._closed = self._closed or final
        self.stopped.extend(stopping)
        for worker, _ in stopping:
            worker.stop()
        for _, thread in stopping:
            thread.join(timeout)

    def watch(self, stop: threading.Event) -> None:
        """Follow the tenant's pause; return (ending the thread) if a consumer thread died."""
        tenant = self.app.tenant
        while not stop.wait(self.check_seconds):
            if any(not thread.is_alive() for _, thread in self.current):
                log.error("a consumer thread died", tenant=tenant)
                return
            try:
                is_open = self.app.gate.is_open()
            except Exception as exc:  # the database is away: keep doing what we did
                log.warning("could not read the tenant's pause; unchanged", tenant=tenant, error=str(exc))
                continue
            if not is_open and self.current:
                log.warning("tenant paused: its consumers stop until `tenants resume`", tenant=tenant)
                self.stop_workers()
            elif is_open and not self.current:
                log.info("tenant resumed: its consumers start", tenant=tenant)
                self.start_workers()


def start(
    apps: App | Sequence[App],
    *,
    producers: bool = True,
    consumers: bool = True,
    worker_threads: int = 1,
    poll_interval: float | None = None,
) -> Running:
    """Start the producers and/or consumers of every tenant in `apps` (one App per tenant)."""
    running = Running()
    for app in [apps] if isinstance(apps, App) else list(apps):
        app.declare_topology()
        running.gates.append(app.gate)
        if consumers:
            _start_consumers(app, running, worker_threads)
        if producers:
            _start_producers(app, running, poll_interval)
    return running


def _start_consumers(app: App, running: Running, worker_threads: int) -> None:
    group = TenantConsumers(app, worker_threads, running)
    running.consumers.append(group)
    if app.gate.is_open():
        group.start_workers()
    else:
        log.warning("tenant is paused; its consumers wait for `tenants resume`", tenant=app.tenant)
    running.threads.append(start_thread(group.watch, f"tenant-{app.tenant}", running.stop_event))


def _start_producers(app: App, running: Running, poll_interval: float | None) -> None:
    publisher = app.publisher()
    running.publishers.append(publisher)
    settings = app.settings
    pollers = app.pollers(publisher)
    schedules = [_schedule(settings, poller, poll_interval) for poller in pollers]
    # every pass of every poller renews the lease: it outlives a few of the longest idle waits
    # (a standby takes over within that; stopping or dying on this machine frees it at once)
    longest = max((s.bound for s in schedules), default=settings.poll.interval_seconds)
    ttl = max(30.0, 6 * settings.poll.interval_seconds, 3 * longest)
    leader = LeaderLease(app.store, app.tenant, ttl_seconds=ttl)
    running.leaders.append(leader)
    if len(running.leaders) == 1:  # the tables are shared: the first tenant's leader prunes for all
        running.threads.append(
            start_thread(
                run_pruner, "store-pruner", app.store, leader, app.settings.retention_days, running.stop_event
            )
        )

    def heard(stream: str) -> None:
        app.store.note_heard(app.tenant, stream, "poll")

    record = ScheduleRecord(app.store, app.tenant)
    for poller, schedule in zip(pollers, schedules, strict=True):
        running.pollers.append(poller)
        health = PollHealth(f"{app.tenant}/{poller.name}", schedule.current)
        running.poll_health.append(health)
        running.threads.append(
            start_thread(
                functools.partial(
                    run_poll_loop,
                    nudged=_nudge(app, poller) if _pushed(settings, poller) else None,
                    scheduled=record,
                ),
                f"poller-{app.tenant}-{poller.name}",
                poller,
                schedule,
                running.stop_event,
                leader,
                heard,
                app.gate,
                health,
            )
        )


def _pushed(settings: Any, poller: Poller) -> bool:
    """Webhooks are on and this poller's source has them: its poll is the safety net."""
    return bool(getattr(poller, "pushed", False)) and settings.webhooks.enabled


def _nudge(app: App, poller: Poller) -> WebhookNudge:
    return WebhookNudge(app.store, app.tenant, poller.name)


def _schedule(settings: Any, poller: Poller, fixed: float | None) -> AdaptiveInterval:
    if fixed is not None:  # a fixed interval (tests, benches)
        return AdaptiveInterval.fixed(fixed)
    return AdaptiveInterval(*settings.poll_bounds(pushed=_pushed(settings, poller)))


def wait_for_signal(running: Running) -> None:
    """Block until SIGINT/SIGTERM, then stop: in-flight messages finish and are acked first."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        running.stop_event.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not running.stop_event.wait(0.5):
        if any(not t.is_alive() for t in running.threads):
            log.error("a worker thread died; stopping")
            break
    running.stop()
