"""The consumers of the shared topology: one bounded pool of threads for every tenant.

With `bus.topology = "shared"` the queues are the same for all tenants, so a process does not run
consumer threads per tenant: it runs `live` threads on the flows' live queues and `bulk` threads
on their bulk queues, whatever the number of tenants, and each event is handed to its own
tenant's handler and gate (`infra.bus.runner.TenantRoute`). The two pools are what keeps one
company's backlog (a first poll, a catch-up, all in the bulk queues) from delaying another
company's live change: the live threads never take a bulk message.

A paused tenant's consumers cannot be stopped without stopping everyone's, so its events are
parked in the DLQ as they arrive (TenantPaused) and `tenants resume` replays them; a tenant
waiting for its daily quota has its events held in the delay queues, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from auvo_bling.wiring import App, start_thread
from auvo_bling.worker_threads import WorkerThreads
from contracts.envelope import Envelope
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker, RetryPolicy, TenantRoute, retry_overrides
from infra.bus.topology import ALL_WORK_QUEUES, Topology, WorkQueue

log = structlog.get_logger("runtime")

Tally = Callable[[str, Envelope], None]


class TenantRoutes:
    """One worker thread's routes: each tenant's handlers, built on its first event and kept.

    Per thread, because a handler (and the clients it holds) is used by one thread at a time, as
    in the per-tenant layout; built lazily, so an idle tenant costs no handler at all.
    """

    def __init__(self, apps: Callable[[str], App | None]) -> None:
        self._apps = apps
        self._routes: dict[str, TenantRoute] = {}
        self._lock = threading.Lock()

    def __call__(self, tenant: str) -> TenantRoute | None:
        route = self._routes.get(tenant)
        if route is not None:
            return route
        app = self._apps(tenant)
        if app is None:
            return None
        try:
            handlers = {wq.flow: handler for wq, handler in app.handlers().items()}
        except Exception as exc:  # one company's broken options must not stop the pool: its events
            # fail through the handler path (retried, then dead-lettered with the diagnosis)
            log.exception("could not build the tenant's handlers", tenant=tenant)
            return TenantRoute(dict.fromkeys((wq.flow for wq in ALL_WORK_QUEUES), _failing(exc)), app.gate)
        route = TenantRoute(handlers, app.gate)
        with self._lock:
            self._routes[tenant] = route
        return route

    def forget(self, tenant: str) -> None:
        """The tenant's options changed: its next event gets handlers built from the new ones."""
        with self._lock:
            self._routes.pop(tenant, None)


class SharedConsumers(WorkerThreads):
    """The process's consumer threads for every tenant it serves (shared topology)."""


    def __init__(
        self,
        apps: list[App],
        *,
        live_threads: int,
        bulk_threads: int,
        on_handled: Tally | None = None,
    ) -> None:
        if not apps:
            raise ValueError("a consumer pool needs at least one tenant")
        super().__init__()
        self._apps = {app.tenant: app for app in apps}
        first = apps[0]
        self.settings = first.settings
        # every tenant's App has the same shared topology; this one is the process's (no tenant view)
        self.topology = Topology.from_settings(first.settings.bus, first.settings.amqp_url)
        self.on_handled = on_handled
        self.routes: list[TenantRoutes] = []
        self.publishers: list[Publisher] = []
        live = tuple(ALL_WORK_QUEUES)
        bulk = tuple(wq.as_bulk() for wq in ALL_WORK_QUEUES)
        # (queues, prefetch): a bulk thread takes one message at a time, so what it holds while it
        # waits for a tenant's Bling quota is that one message, never a batch of other tenants'
        self._plan: list[tuple[tuple[WorkQueue, ...], int, str]] = [
            (live, first.settings.bus.prefetch, f"live-{i}") for i in range(live_threads)
        ] + [(bulk, 1, f"bulk-{i}") for i in range(bulk_threads)]

    def app_of(self, tenant: str) -> App | None:
        return self._apps.get(tenant)

    def serve(self, app: App) -> None:
        """Hand the tenant's events to `app` from now on (a tenant added while running, or one
        enabled again: its handlers are built anew from this App on its next event)."""
        again = app.tenant in self._apps
        self._apps[app.tenant] = app
        if again:
            self.restart_tenant(app.tenant)

    def _worker(self, queues: tuple[WorkQueue, ...], prefetch: int) -> QueueWorker:
        bus = self.settings.bus
        publisher = Publisher(self.settings.amqp_url, self.topology)
        self.publishers.append(publisher)
        routes = TenantRoutes(self.app_of)
        self.routes.append(routes)
        store = next(iter(self._apps.values())).store  # one store, shared by the deployment's tenants
        return QueueWorker(
            self.settings.amqp_url,
            self.topology,
            dict.fromkeys(queues, _unrouted),
            publisher,
            policy=RetryPolicy.from_settings(bus),
            overrides=retry_overrides(bus),
            prefetch=prefetch,
            history=store,
            dead_letters=store,
            routes=routes,
            set_aside_after=bus.set_aside_after_seconds,
        )

    def start_workers(self) -> None:
        with self._lock:
            if self.current or self._closed:
                return
            for queues, prefetch, name in self._plan:
                worker = self._worker(queues, prefetch)
                worker.on_handled = self._handled
                thread = start_thread(worker.run, f"consumer-{name}")
                self.current.append((worker, thread))

    def _handled(self, flow: str, envelope: Envelope) -> None:
        if self.on_handled is not None:
            self.on_handled(flow, envelope)

    def workers(self) -> list[QueueWorker]:
        return [worker for worker, _ in self.current]

    def restart_tenant(self, tenant: str) -> None:
        """The tenant's options changed: drop its handlers; each thread builds them again."""
        for routes in self.routes:
            routes.forget(tenant)
        log.info("tenant's handlers rebuilt on its new options", tenant=tenant)

    def stop_workers(self, timeout: float = 10.0, *, final: bool = False) -> None:
        super().stop_workers(timeout, final=final)
        if final:
            for publisher in self.publishers:
                publisher.close()


def _failing(error: Exception) -> Callable[[Envelope], str]:
    def handler(envelope: Envelope) -> str:
        raise error

    return handler


def _unrouted(envelope: Envelope) -> str:  # pragma: no cover - the worker's routes hand events out
    raise AssertionError(f"event {envelope.event_id} reached a shared queue's placeholder handler")
