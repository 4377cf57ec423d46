"""A deployment serves several tenants: one App per enabled tenant, all sharing one store.

Each App is built from `Settings.for_tenant(name)`, so its clients, tokens, rate-limit buckets,
cursors, id map and queues are its tenant's alone; only the database connection pool and the
broker are shared.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from auvo_bling.company_options import tenant_settings
from auvo_bling.tenant_registry import with_database_tenants
from auvo_bling.wiring import App
from infra.errors import ConfigurationError
from infra.settings import Settings
from infra.store import Store

# The flows that have a poller (customers, contacts, tasks, quotes, expenses): at most this many
# poll loops per tenant, each holding one connection at a time.
POLLERS_PER_TENANT = 5
# the watchers' pause and options reads, the leader lease, a token refresh lock, `status`-like reads
POOL_MARGIN = 4


def _tenant_app(store: Store, settings: Settings, name: str) -> App:
    """The tenant's App with its company options, read after their revision (so the settings are
    at least that revision's)."""
    revision = store.options_revision(name).revision
    effective = tenant_settings(store, settings, name)
    return App(
        effective, shared_store=store, bootstrap=settings.bootstrap_for(name), options_revision=revision
    )


def pool_size_for(
    tenants: int,
    worker_threads: int,
    *,
    consumers: bool,
    producers: bool,
    shared_threads: tuple[int, int] | None = None,
) -> int:
    """Connections a process needs at once, so that a handler never waits for one.

    An in-flight handler holds one connection for its entity's advisory lock (PostgreSQL session
    lock) and takes a second for its store calls (id map, processed ids, rate-limit bucket); a
    poll loop holds one. One pool of 5 shared by every tenant and thread ran out with a few
    threads, and the handlers waited for each other instead of for Bling.

    With the shared topology (`shared_threads`: the process's consumer threads, live and bulk, and
    its poll threads) nothing grows with the tenants: a tenant holds no thread of its own.
    """
    if shared_threads is not None:
        consumer_threads, poll_threads = shared_threads
        pool = (2 * consumer_threads if consumers else 0) + (poll_threads if producers else 0)
        return pool + POOL_MARGIN
    per_tenant = (2 * worker_threads if consumers else 0) + (POLLERS_PER_TENANT if producers else 0)
    return tenants * per_tenant + POOL_MARGIN


@dataclass
class RegistryChanges:
    added: list[App] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    waiting: dict[str, list[str]] = field(default_factory=dict)  # tenant -> the settings it lacks


@dataclass
class Deployment:
    settings: Settings
    store: Store
    apps: list[App]

    # False when the process was told which tenants to serve (`--tenant`): it follows no registry
    follows_registry: bool = True
    # the settings as loaded (the file's tenants only): the registry is merged into these again
    loaded: Settings | None = None

    @classmethod
    def of(
        cls,
        settings: Settings,
        tenants: list[str] | None = None,
        *,
        worker_threads: int = 1,
        consumers: bool = True,
        producers: bool = True,
    ) -> Deployment:
        """The enabled tenants (or the named ones, enabled or not), with a database pool sized for
        the threads this process runs (`worker_threads` consumer threads per tenant). The file's
        tenants and the database's (auvo_bling/tenant_registry.py) alike."""
        loaded, settings = settings, with_database_tenants(settings)
        names = settings.served_tenants() if tenants is None else tenants
        if not names:
            raise ConfigurationError(
                "no tenant is enabled: set tenant_enabled = true for the top-level one, "
                "`auvo-bling tenants enable <name>`, or `auvo-bling tenants add <name> --database`"
            )
        for name in names:  # unknown names fail before connecting
            settings.for_tenant(name)
        bus = settings.bus
        shared = (
            (max(worker_threads, bus.live_worker_threads) + bus.bulk_worker_threads, bus.poll_threads)
            if bus.topology == "shared"
            else None
        )
        size = pool_size_for(
            len(names), worker_threads, consumers=consumers, producers=producers, shared_threads=shared
        )
        # the overflow absorbs the nested locks (a produto created on demand, a token refresh);
        # an out-of-date schema refuses here (one line, exit 2) unless told to upgrade at start
        store = Store(
            settings.database_url,
            pool_size=size,
            max_overflow=max(5, size // 2),
            upgrade=settings.database_auto_upgrade,
        )
        try:
            built = [_tenant_app(store, settings, name) for name in names]
        except BaseException:
            store.dispose()
            raise
        return cls(settings, store, built, follows_registry=tenants is None, loaded=loaded)

    def registry_changes(self) -> RegistryChanges:
        """What the database's registry changed since the last look: the Apps of the tenants it now
        serves that this deployment lacks (added or enabled), the names of those it stopped serving
        (disabled or removed), and the new ones still missing a credential (served once they have
        them). The file's tenants never change here (a restart reads the file)."""
        if not self.follows_registry:
            return RegistryChanges()
        merged = with_database_tenants(self.loaded or self.settings, self.store)
        serving = {app.tenant for app in self.apps}
        wanted = merged.served_tenants()
        changes = RegistryChanges(gone=sorted(serving - set(wanted)))
        for name in wanted:
            if name in serving:
                continue
            app = _tenant_app(self.store, merged, name)
            missing = app.settings.required_for_run()
            if missing:
                app.close()
                changes.waiting[name] = missing
            else:
                changes.added.append(app)
        self.settings = merged
        self.apps = [app for app in self.apps if app.tenant not in changes.gone] + changes.added
        return changes

    def app(self, tenant: str) -> App:
        for application in self.apps:
            if application.tenant == tenant:
                return application
        raise ConfigurationError(f"tenant {tenant!r} is not served here")

    def close(self) -> None:
        for application in self.apps:
            application.close()
        with contextlib.suppress(Exception):
            self.store.dispose()
