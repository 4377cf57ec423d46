"""Running producers and consumers as threads of one process, and stopping them cleanly.

`run`, `produce`, `consume` and the demo all start the same pieces; only which ones differ.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from auvo_bling.heartbeat import FlowTally, Pulse, role_of
from auvo_bling.options_reload import MAX_CHECK_SECONDS, OptionsWatcher, consumers_affected, with_rereads
from auvo_bling.shared_consumers import SharedConsumers
from auvo_bling.shared_producers import SharedProducers, SharedTenantProducers, pushed
from auvo_bling.tenant_watches import FleetLooks, FleetMember, TenantWatches
from auvo_bling.wiring import App, start_thread
from auvo_bling.worker_threads import WorkerThreads
from contracts.envelope import Envelope
from infra.bling.quota_watch import QuotaWatch
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker
from infra.errors import ConfigurationError
from infra.health import PollHealth, Report, assess
from infra.quota import spending
from infra.settings import Settings
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

if TYPE_CHECKING:
    from auvo_bling.tenancy import Deployment

log = structlog.get_logger("runtime")


@dataclass
class Running:
    """What one process started; `stop()` ends it and waits for the threads."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    workers: list[QueueWorker] = field(default_factory=list)
    pollers: list[Poller] = field(default_factory=list)
    publishers: list[Publisher] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    leaders: list[LeaderLease | SharedProducers] = field(default_factory=list)
    consumers: list[TenantConsumers | SharedConsumers] = field(default_factory=list)
    poll_health: list[PollHealth] = field(default_factory=list)
    gates: list[TenantGate] = field(default_factory=list)
    producers: list[TenantProducers | SharedTenantProducers] = field(default_factory=list)
    schedulers: list[SharedProducers] = field(default_factory=list)
    quota_watches: list[QuotaWatch] = field(default_factory=list)
    pulse: Pulse | None = None
    tally: FlowTally = field(default_factory=FlowTally)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for tenant_producers in self.producers:
            tenant_producers.halt()
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
        for scheduler in self.schedulers:
            scheduler.close()
        if self.pulse is not None:
            self.pulse.finish()

    def readiness(self) -> Report:
        """Why this process is not doing its job, if it is not (served as `/readyz`)."""
        consumers = {group.label: list(group.current) for group in self.consumers}
        pollers = [*self.poll_health, *(h for s in self.schedulers for h in s.health())]
        return assess(consumers=consumers, pollers=pollers, gates=self.gates)

    def published(self) -> int:
        return sum(p.published for p in self.publishers)

    def consumer_stats(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for worker in self.workers:
            for key, value in worker.stats.items():
                total[key] = total.get(key, 0) + value
        return total


class TenantConsumers(WorkerThreads):
    """One tenant's consumer threads: stopped while the tenant is paused, started when it resumes.

    Stopping (rather than parking every message) leaves the tenant's backlog in its own queues,
    untouched, while the other tenants go on; only the few messages already in flight when the
    pause began are parked in the tenant's DLQ, and `tenants resume` replays them.
    """

    def __init__(self, app: App, threads: int, running: Running, *, check_seconds: float = 1.0) -> None:
        super().__init__()
        self.app = app
        self.running = running
        self.check_seconds = check_seconds
        # one publisher per thread slot, kept across pauses (a worker needs one for retries)
        self.publishers = [app.publisher() for _ in range(threads)]
        running.publishers.extend(self.publishers)

    @property
    def label(self) -> str:
        return self.app.tenant

    def restart_tenant(self, tenant: str) -> None:
        """The tenant's options changed the consumers: start them again on the new settings."""
        self.stop_workers()
        if self.app.gate.is_open():
            self.start_workers()

    def start_workers(self) -> None:
        with self._lock:
            if self.current or self._closed:
                return
            for i, publisher in enumerate(self.publishers):
                worker = self.app.worker(publisher)
                worker.on_handled = self._tell_tally
                self.running.workers.append(worker)
                thread = start_thread(worker.run, f"consumer-{self.app.tenant}-{i}")
                self.current.append((worker, thread))

    def _tell_tally(self, flow: str, envelope: Envelope) -> None:
        self.running.tally.note(
            self.app.tenant, flow, envelope.event_id, envelope.occurred_at, datetime.now(UTC)
        )

    def look(self) -> None:
        """Follow the tenant's pause: stop its consumers while paused, start them on resume."""
        tenant = self.app.tenant
        try:
            is_open = self.app.gate.is_open()
        except Exception as exc:  # the database is away: keep doing what we did
            log.warning("could not read the tenant's pause; unchanged", tenant=tenant, error=str(exc))
            return
        if not is_open and self.current:
            log.warning("tenant paused: its consumers stop until `tenants resume`", tenant=tenant)
            self.stop_workers()
        elif is_open and not self.current:
            log.info("tenant resumed: its consumers start", tenant=tenant)
            self.start_workers()


class TenantProducers:
    """One tenant's poll loops, restartable: its company options changed, so its pollers (filters,
    enabled flows, interval) are rebuilt. The lease, the publisher and the pruner stay."""

    def __init__(self, app: App, running: Running, leader: LeaderLease, poll_interval: float | None) -> None:
        self.app = app
        self.running = running
        self.leader = leader
        self.fixed_interval = poll_interval
        self.publisher = app.publisher()
        running.publishers.append(self.publisher)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pollers: list[Poller] = []
        self._health: list[PollHealth] = []
        self.retired = False

    def start(self) -> None:
        app, running = self.app, self.running
        with self._lock:
            if running.stop_event.is_set() or self._threads or self.retired:
                return
            self._stop = threading.Event()
            settings = app.settings
            pollers = list(with_rereads(app, app.pollers(self.publisher)))
            schedules = [_schedule(settings, poller, self.fixed_interval) for poller in pollers]
            # the lease is kept by its own thread (LeaderLease.keep), not only by the passes, so it
            # can stay short however long an idle poller waits: a standby takes over within it
            # (stopping or dying on this machine frees it at once)
            self.leader.ttl_seconds = max(30.0, 6 * settings.poll.interval_seconds)
            self._threads.append(start_thread(self.leader.keep, f"lease-{app.tenant}", self._stop))

            def heard(stream: str) -> None:
                app.store.note_heard(app.tenant, stream, "poll")

            record = ScheduleRecord(app.store, app.tenant)
            for poller, schedule in zip(pollers, schedules, strict=True):
                health = PollHealth(f"{app.tenant}/{poller.name}", schedule.current)
                thread = start_thread(
                    functools.partial(
                        _poll_loop,
                        nudged=_nudge(app, poller) if pushed(settings, poller) else None,
                        scheduled=record,
                    ),
                    f"poller-{app.tenant}-{poller.name}",
                    poller,
                    schedule,
                    self._stop,
                    self.leader,
                    heard,
                    app.gate,
                    health,
                )
                self._pollers.append(poller)
                self._health.append(health)
                self._threads.append(thread)
            running.pollers.extend(self._pollers)
            running.poll_health.extend(self._health)
            running.threads.extend(self._threads)

    def halt(self) -> None:
        self._stop.set()

    def retire(self) -> None:
        """The tenant is no longer served here: its poll loops and lease stop for good (an options
        restart racing with this starts nothing); its consumers go on with what is queued."""
        self.retired = True
        self.stop()
        self.leader.release()

    def stop(self, timeout: float = 10.0) -> None:
        """End the loops (a pass in progress finishes) and take them out of what `running` watches."""
        running = self.running
        with self._lock:
            threads, pollers, health = self._threads, self._pollers, self._health
            self._threads, self._pollers, self._health = [], [], []
            # whole-list assignments: readers in other threads see the old or the new list
            running.threads[:] = [t for t in running.threads if t not in threads]
            running.pollers[:] = [p for p in running.pollers if p not in pollers]
            running.poll_health[:] = [h for h in running.poll_health if h not in health]
            self._stop.set()
        for thread in threads:
            thread.join(timeout)


def start(
    apps: App | Sequence[App],
    *,
    producers: bool = True,
    consumers: bool = True,
    worker_threads: int = 1,
    poll_interval: float | None = None,
    registry: Deployment | None = None,
) -> Running:
    """Start the producers and/or consumers of every tenant in `apps` (one App per tenant).

    With `registry` (the process's Deployment), the tenants the database adds, enables, disables or
    removes while the process runs are followed within a poll interval (`_follow_registry`)."""
    running = Running()
    served = [apps] if isinstance(apps, App) else list(apps)
    shared = bool(served) and served[0].topology.shared
    pool = _start_shared_consumers(served, running, worker_threads) if shared and consumers else None
    polling = _start_shared_producers(served, running, poll_interval) if shared and producers else None
    watches = TenantWatches() if shared else None  # one thread for every tenant's periodic looks
    if watches is not None:
        running.threads.append(start_thread(watches.run, "tenant-watches", running.stop_event))
    serving = Serving(
        running,
        pool,
        polling,
        watches,
        consumers=consumers,
        producers=producers,
        worker_threads=worker_threads,
        poll_interval=poll_interval,
        declared={pool.topology.prefix} if pool is not None else set(),
        looks=FleetLooks(served[0].store) if watches is not None else None,
    )
    if watches is not None and serving.looks is not None:
        serving.looks.every(
            watches,
            options_seconds=min(MAX_CHECK_SECONDS, *(a.settings.poll.interval_seconds for a in served)),
        )
    for app in served:
        serving.serve(app)
    if served:
        _start_pulse(serving, running, role_of(producers, consumers), worker_threads if consumers else 0)
        if registry is not None and registry.follows_registry:
            _follow_registry(registry, serving, min(app.settings.poll.interval_seconds for app in served))
    return running


@dataclass
class Serving:
    """What `start` started for each tenant, so a tenant can be added to a running process (the
    registry added or enabled it) or retired from it (disabled or removed) like the first ones."""

    running: Running
    pool: SharedConsumers | None
    polling: SharedProducers | None
    watches: TenantWatches | None
    consumers: bool
    producers: bool
    worker_threads: int
    poll_interval: float | None
    declared: set[str]
    looks: FleetLooks | None = None  # the shared topology's looks at every tenant at once
    apps: list[App] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)  # the heartbeat's list (the same object)
    _producers: dict[str, TenantProducers | SharedTenantProducers] = field(default_factory=dict)
    # per-tenant layout: each tenant's consumer group, kept when it is retired (it drains its queues)
    _consumers: dict[str, TenantConsumers] = field(default_factory=dict)

    def serve(self, app: App) -> None:
        running = self.running
        if app.topology.prefix not in self.declared:  # the shared topology: once for every tenant
            app.declare_topology()
            self.declared.add(app.topology.prefix)
        running.gates.append(app.gate)
        watch = quota_watch(app)
        running.quota_watches.append(watch)
        if self.looks is None:
            running.threads.append(start_thread(watch.run, f"quota-{app.tenant}", running.stop_event))
        group: TenantConsumers | SharedConsumers | None = self.pool
        if self.pool is not None:
            self.pool.serve(app)
        elif self.consumers:
            group = self._consumers.get(app.tenant)
            if group is None:
                group = self._consumers[app.tenant] = _start_consumers(app, running, self.worker_threads)
            else:  # served again in this process (enabled after a disable): its one group, new App
                group.app = app
                group.restart_tenant(app.tenant)
        polls: TenantProducers | SharedTenantProducers | None = None
        if self.polling is not None:
            polls = self.polling.tenant(app)
            running.producers.append(polls)
            polls.start()
        elif self.producers:
            polls = _start_producers(app, running, self.poll_interval)
        if polls is not None:
            self._producers[app.tenant] = polls
        options = None
        if app.bootstrap is not None:
            options = _watch_options(app, app.bootstrap, running, group, polls, own_thread=self.looks is None)
        if self.looks is not None:
            self.looks.add(FleetMember(app.tenant, app.gate, watch, options))
        self.apps.append(app)
        self.tenants.append(app.tenant)

    def retire(self, tenant: str) -> None:
        """Stop polling the tenant now; its events already queued (and their retries) are still
        handled by the consumers that hold its App (drained). The shared pool keeps its route."""
        polls = self._producers.pop(tenant, None)
        if polls is not None:
            polls.retire()
        if self.looks is not None:
            self.looks.remove(tenant)
        self.apps[:] = [app for app in self.apps if app.tenant != tenant]
        self.tenants[:] = [name for name in self.tenants if name != tenant]


def _follow_registry(registry: Deployment, serving: Serving, every_seconds: float) -> None:
    """Look at the database's tenants every poll interval: serve the new ones, retire the gone."""
    running = serving.running

    told: dict[str, list[str]] = {}  # a tenant waiting for its credentials is logged once per change

    def look() -> None:
        try:
            changes = registry.registry_changes()
        except Exception as exc:  # the database is away, or a new tenant's options do not load
            log.warning("could not read the tenants in the database; serving the same", error=str(exc))
            return
        for tenant in changes.gone:
            log.warning("tenant no longer served (disabled or removed): its polling stops", tenant=tenant)
            serving.retire(tenant)
        for app in changes.added:
            log.info("tenant added while running: serving it", tenant=app.tenant)
            told.pop(app.tenant, None)
            serving.serve(app)
        for tenant, missing in changes.waiting.items():
            if told.get(tenant) != missing:
                log.warning(
                    "tenant added but not served yet: settings missing", tenant=tenant, missing=missing
                )
                told[tenant] = missing

    if serving.watches is not None:
        serving.watches.every(every_seconds, "tenant-registry", look)
    else:

        def loop(stop: threading.Event) -> None:
            while not stop.wait(every_seconds):
                look()

        running.threads.append(start_thread(loop, "tenant-registry", running.stop_event))


def _start_pulse(serving: Serving, running: Running, role: str, threads: int) -> None:
    """The process's heartbeat and flow history, in the store the tenants share (the lists
    `Serving` keeps, so a tenant added or retired while running is counted or not)."""
    first = serving.apps[0]

    def bling_calls() -> dict[str, int]:  # one read for every tenant the process serves
        calls = first.store.daily_calls_of(first.budget.today())
        return {tenant: calls.get(tenant, 0) for tenant in list(serving.tenants)}

    running.pulse = Pulse(
        first.store,
        role,
        threads,
        serving.tenants,
        running.tally,
        bling_calls,
        interval_seconds=first.settings.heartbeat_seconds,
    )
    running.threads.append(start_thread(running.pulse.run, "heartbeat", running.stop_event))


def quota_watch(app: App) -> QuotaWatch:
    """The watch that lifts the tenant's daily-quota pause (probe: one contato, counted as live)."""
    return QuotaWatch(
        app.store,
        app.gate,
        app.budget,
        lambda: app.bling.contacts_page(1, limite=1),
        probe_seconds=app.settings.bling.quota_probe_seconds,
    )


def _poll_loop(*args: Any, **kwargs: Any) -> None:
    """run_poll_loop with the thread's Bling calls tagged as polls: they never spend the daily
    reserve for live writes (refused with BudgetReservedForWrites, retried on the next tick)."""
    with spending("poll"):
        run_poll_loop(*args, **kwargs)


def _watch_options(
    app: App,
    bootstrap: Settings,
    running: Running,
    consumers: TenantConsumers | SharedConsumers | None,
    producers: TenantProducers | SharedTenantProducers | None,
    *,
    own_thread: bool,
) -> OptionsWatcher:
    """The watcher that restarts the tenant's pieces on its new options
    (auvo_bling/options_reload.py): on a thread of its own, or (shared topology) looked at with
    every tenant's by the process's FleetLooks."""

    running_settings = app.settings  # what the last finished restart applied (not app.settings:
    # a restart that raised halfway is done again in full, consumers included, on the next check)

    def restart(settings: Settings) -> None:
        nonlocal running_settings
        restart_consumers = consumers is not None and consumers_affected(running_settings, settings)
        app.apply_settings(settings)  # first: a worker the pause watcher starts now gets the new ones
        if producers is not None:  # first: the new pollers publish while the consumers restart
            producers.stop()
            producers.start()
        if restart_consumers and consumers is not None:
            consumers.restart_tenant(app.tenant)
        running_settings = settings

    watcher = OptionsWatcher(app, bootstrap, restart)
    if own_thread:
        running.threads.append(start_thread(watcher.run, f"options-{app.tenant}", running.stop_event))
    return watcher


def _start_consumers(app: App, running: Running, worker_threads: int) -> TenantConsumers:
    group = TenantConsumers(app, worker_threads, running)
    running.consumers.append(group)
    if app.gate.is_open():
        group.start_workers()
    else:
        log.warning("tenant is paused; its consumers wait for `tenants resume`", tenant=app.tenant)
    running.threads.append(start_thread(group.watch, f"tenant-{app.tenant}", running.stop_event))
    return group


def _start_shared_consumers(apps: list[App], running: Running, worker_threads: int) -> SharedConsumers:
    """The shared topology's pool: `worker_threads` live threads (at least
    `bus.live_worker_threads`) and `bus.bulk_worker_threads` bulk ones for all the tenants,
    started once and never stopped for one tenant's pause (its events are parked instead:
    auvo_bling/shared_consumers.py)."""

    def tally(flow: str, envelope: Envelope) -> None:
        running.tally.note(envelope.tenant, flow, envelope.event_id, envelope.occurred_at, datetime.now(UTC))

    pool = SharedConsumers(
        apps,
        live_threads=max(worker_threads, apps[0].settings.bus.live_worker_threads),
        bulk_threads=apps[0].settings.bus.bulk_worker_threads,
        on_handled=tally,
    )
    running.consumers.append(pool)
    for app in apps:  # the pool hands out each tenant's events; every tenant's queues are declared first
        if app.topology.prefix != pool.topology.prefix:
            raise ConfigurationError(
                f"tenant {app.tenant!r} has bus prefix {app.topology.prefix!r}, the pool "
                f"{pool.topology.prefix!r}: with bus.topology = shared every tenant shares one"
            )
    apps[0].declare_topology()
    pool.start_workers()
    running.workers.extend(pool.workers())
    running.threads.append(start_thread(pool.watch, "consumer-pool", running.stop_event))
    return pool


def _start_shared_producers(
    apps: list[App], running: Running, poll_interval: float | None
) -> SharedProducers:
    """The shared topology's pollers: one scheduler for every tenant, this process's fair share
    of the poll shards (auvo_bling/shared_producers.py), and the store's pruner."""
    polling = SharedProducers(apps, running.stop_event, poll_interval)
    running.schedulers.append(polling)
    running.leaders.append(polling)
    polling.start()
    running.threads.extend(polling.threads)
    pruning = LeaderLease(apps[0].store, "deployment", ttl_seconds=30.0)  # one producer prunes
    running.leaders.append(pruning)
    running.threads.append(start_thread(pruning.keep, "lease-pruner", running.stop_event))
    _start_pruner(apps[0], running, pruning)
    return polling


def _start_pruner(app: App, running: Running, leader: LeaderLease) -> None:
    """The tables are shared: one pruner, on whichever producer holds `leader`, prunes for all."""
    running.threads.append(
        start_thread(
            functools.partial(run_pruner, metrics_history_days=app.settings.metrics_history_days),
            "store-pruner",
            app.store,
            leader,
            app.settings.retention_days,
            running.stop_event,
        )
    )


def _start_producers(app: App, running: Running, poll_interval: float | None) -> TenantProducers:
    leader = LeaderLease(app.store, app.tenant, ttl_seconds=30.0)  # TenantProducers.start sets it
    running.leaders.append(leader)
    if len(running.leaders) == 1:  # the first tenant's leader prunes for all
        _start_pruner(app, running, leader)

    group = TenantProducers(app, running, leader, poll_interval)
    running.producers.append(group)
    group.start()
    return group


def _nudge(app: App, poller: Poller) -> WebhookNudge:
    return WebhookNudge(app.store, app.tenant, poller.name)


def _schedule(settings: Any, poller: Poller, fixed: float | None) -> AdaptiveInterval:
    if fixed is not None:  # a fixed interval (tests, benches)
        return AdaptiveInterval.fixed(fixed)
    return AdaptiveInterval(*settings.poll_bounds(pushed=pushed(settings, poller)))


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
