"""The producers of the shared topology: every tenant's pollers on one bounded pool of threads.

Per tenant the per-tenant layout runs a lease thread and a thread per poller, and one process
takes every tenant's lease. Here a process runs `bus.poll_threads` poll threads for all its
tenants (`producers.poll_scheduler`), one publisher, and holds its fair share of the poll shards
(`producers.poll_shards`), so several `produce` processes share the polling and the shards of one
that dies are taken over within the lease.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from auvo_bling.options_reload import with_rereads
from auvo_bling.wiring import App, start_thread
from infra.bus.publisher import Publisher
from infra.health import PollHealth
from infra.quota import spending
from producers.poll_scheduler import PollScheduler, PollTask
from producers.poll_shards import PollShards
from producers.polling import AdaptiveInterval, PassNotes, Poller, WebhookNudge

log = structlog.get_logger("runtime")


class SharedProducers:
    """The process's poll scheduler, shard leases and publisher, for every tenant it serves."""

    def __init__(self, apps: list[App], stop: threading.Event, poll_interval: float | None) -> None:
        first = apps[0]
        bus = first.settings.bus
        self.fixed_interval = poll_interval
        self.publisher = Publisher(first.settings.amqp_url, first.topology)
        interval = min(app.settings.poll.interval_seconds for app in apps)
        self.shards = PollShards(
            first.store, bus.poll_shards, ttl_seconds=max(30.0, 6 * interval), on_gained=self._gained
        )
        self.scheduler = PollScheduler(
            self.shards.holds,
            threads=bus.poll_threads,
            stop=stop,
            around=lambda: spending("poll"),
            webhooks_heard=lambda: first.store.heard_by("webhook"),
        )
        self._stop = stop
        self.threads: list[threading.Thread] = []
        # every tenant's passes' notes for `status`, written together every two seconds
        self.notes = PassNotes(first.store)

    def _gained(self, is_new: Callable[[str], bool]) -> None:
        self.scheduler.wake(is_new)

    def start(self) -> None:
        self.shards.renew()  # the first shards before the first passes: no standby tick at start
        self.threads.append(start_thread(self.shards.keep, "poll-shards", self._stop))
        self.threads.append(start_thread(self.notes.keep, "poll-notes", self._stop))
        self.scheduler.start()
        self.threads.extend(self.scheduler.threads)

    def tenant(self, app: App) -> SharedTenantProducers:
        return SharedTenantProducers(app, self)

    def health(self) -> list[PollHealth]:
        return self.scheduler.health()

    def release(self) -> None:
        self.shards.release()

    def close(self) -> None:
        self.publisher.close()


class SharedTenantProducers:
    """One tenant's pollers in the shared scheduler: started, or stopped and rebuilt (its options
    changed), like a per-tenant `TenantProducers`."""

    def __init__(self, app: App, shared: SharedProducers) -> None:
        self.app = app
        self.shared = shared
        self.retired = False

    def start(self) -> None:
        if self.retired:  # an options restart racing with the tenant's removal starts nothing
            return
        app, shared = self.app, self.shared
        heard, record = shared.notes.heard(app.tenant), shared.notes.scheduled(app.tenant)
        tasks = []
        for poller in with_rereads(app, app.pollers(shared.publisher)):
            is_pushed = pushed(app.settings, poller)
            schedule = (
                AdaptiveInterval.fixed(shared.fixed_interval)
                if shared.fixed_interval is not None
                else AdaptiveInterval(*app.settings.poll_bounds(pushed=is_pushed))
            )
            tasks.append(
                PollTask(
                    app.tenant,
                    poller,
                    schedule,
                    gate=app.gate,
                    health=PollHealth(f"{app.tenant}/{poller.name}", schedule.current),
                    heard=heard,
                    scheduled=record,
                    nudged=WebhookNudge(app.store, app.tenant, poller.name) if is_pushed else None,
                )
            )
        shared.scheduler.add(tasks)

    def stop(self, timeout: float = 10.0) -> None:
        self.shared.scheduler.remove(self.app.tenant, timeout)

    def retire(self) -> None:
        """The tenant is no longer served here (disabled or removed): its pollers stop for good."""
        self.retired = True
        self.stop()

    def halt(self) -> None:
        """The process stops: the scheduler ends with the process's stop event."""


def pushed(settings: Any, poller: Poller) -> bool:
    """Webhooks are on and this poller's source has them: its poll is the safety net."""
    return bool(getattr(poller, "pushed", False)) and settings.webhooks.enabled
