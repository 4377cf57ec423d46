"""A deployment serves several tenants: one App per enabled tenant, all sharing one store.

Each App is built from `Settings.for_tenant(name)`, so its clients, tokens, rate-limit buckets,
cursors, id map and queues are its tenant's alone; only the database connection pool and the
broker are shared.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from auvo_bling.wiring import App
from infra.errors import ConfigurationError
from infra.settings import Settings
from infra.store import Store


@dataclass
class Deployment:
    settings: Settings
    store: Store
    apps: list[App]

    @classmethod
    def of(cls, settings: Settings, tenants: list[str] | None = None) -> Deployment:
        """The enabled tenants (or the named ones, enabled or not)."""
        names = settings.served_tenants() if tenants is None else tenants
        if not names:
            raise ConfigurationError(
                "no tenant is enabled: set tenant_enabled = true for the top-level one, or "
                "`auvo-bling tenants enable <name>`"
            )
        apps = [settings.for_tenant(name) for name in names]  # unknown names fail before connecting
        # an out-of-date schema refuses here (one line, exit 2) unless told to upgrade at start
        store = Store(settings.database_url, upgrade=settings.database_auto_upgrade)
        return cls(settings, store, [App(s, shared_store=store) for s in apps])

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
