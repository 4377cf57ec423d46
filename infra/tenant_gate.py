"""Whether a tenant may work now, shared by its consumers and pollers through the store.

A tenant whose account broke (Auvo API deactivated, Bling authorization revoked) would fail every
event the same way: the first such failure pauses the tenant for every process, the others keep
going. The pause is a row in the store, so `auvo-bling tenants resume` in another process lifts
it; reads are cached for a second because every message asks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from infra import metrics
from infra.errors import DailyQuota, IntegrationError
from infra.logging import scrub
from infra.store import Store, TenantPause

log = structlog.get_logger("tenants")


class TenantGate:
    def __init__(
        self,
        store: Store,
        tenant: str,
        *,
        ttl_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, TenantPause | None] | None = None

    def pause_of(self, *, fresh: bool = False) -> TenantPause | None:
        """The tenant's pause, at most `ttl_seconds` old (`fresh`: read now).

        Before parking an event, ask fresh: `tenants resume` lifts the pause and then replays at
        once, and a cached "paused" would park the replayed events again.
        """
        now = self._clock()
        with self._lock:
            if not fresh and self._cached is not None and now - self._cached[0] < self.ttl:
                return self._cached[1]
        pause = self.store.tenant_pause(self.tenant)
        with self._lock:
            self._cached = (now, pause)
        # read here, so a resume from another process (`tenants resume`) shows in this one's metrics
        metrics.TENANT_PAUSED.labels(tenant=self.tenant).set(0 if pause is None else 1)
        return pause

    def prime(self, pause: TenantPause | None) -> None:
        """What a read of every tenant's pause at once found for this one (`Store.tenant_pauses`):
        cached as if read here, so the consumers', pollers' and watches' next looks read nothing."""
        with self._lock:
            self._cached = (self._clock(), pause)
        metrics.TENANT_PAUSED.labels(tenant=self.tenant).set(0 if pause is None else 1)

    def is_open(self) -> bool:
        return self.pause_of() is None

    def pause(self, error: IntegrationError) -> None:
        """Pause the tenant because of `error` (only errors with `pauses_tenant` should come here)."""
        first = self.store.pause_tenant(
            self.tenant, error.error_class, scrub(error.message)[:2000], error.hint or ""
        )
        with self._lock:
            self._cached = None
        if first:
            metrics.TENANT_PAUSED.labels(tenant=self.tenant).set(1)
            if isinstance(error, DailyQuota):  # ends by itself (infra/bling/quota_watch.py)
                log.warning("tenant paused for the daily quota", tenant=self.tenant, **error.diagnosis())
                return
            log.error(
                "tenant paused: its account cannot be used until the cause is fixed",
                tenant=self.tenant,
                **error.diagnosis(),
            )
