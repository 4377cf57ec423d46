"""The composition root: settings in, connected pieces out. Nothing else builds infrastructure.

Keeping construction here (and only here) is what lets the demo, the CLI and the tests run the
same producers and consumers against different brokers, databases and API endpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from auvo_bling.flows import FLOWS, outcome_on
from consumers.base import Handler
from contracts.options import Direction
from infra.auvo.client import AuvoClient
from infra.bling.budget import DailyBudgetGuard, utc_now
from infra.bling.client import BlingClient
from infra.bling.oauth import TokenSet, refresh_tokens
from infra.bling.tokens import StoredBlingTokens
from infra.bus.publisher import Publisher, make_connection
from infra.bus.runner import QueueWorker, RetryPolicy, retry_overrides
from infra.bus.topology import Topology, WorkQueue
from infra.egress import BlingEgress, ChainedThrottle, auvo_ip_limit
from infra.errors import ConfigurationError
from infra.quota import DailyBudget
from infra.ratelimit import SharedThrottle
from infra.settings import Settings
from infra.store import Store
from infra.tenant_gate import TenantGate
from infra.token_vault import TokenVault
from producers.polling import Poller
from producers.task_selection import TaskRules

if TYPE_CHECKING:
    from producers.webhooks.bling_order_outcomes import BlingOrderOutcomeEvents
    from producers.webhooks.receiver import WebhookReceiver

# The receiver answers within the sender's timeout (Bling: 5 s): a short reconnect, then 503.
WEBHOOK_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 0.5}


def _secret(value: object) -> str:
    get = getattr(value, "get_secret_value", None)
    return get() if get else ""


@dataclass
class App:
    """One tenant's pieces (see infra.settings.Settings.for_tenant); tenants may share a store."""

    settings: Settings
    shared_store: Store | None = None
    _closers: list = field(default_factory=list)
    # the deployment-wide settings `settings` came from (load_settings): with it, a running process
    # follows the tenant's company options (auvo_bling/options_reload.py); None = fixed settings
    bootstrap: Settings | None = None
    # the options revision `settings` include (at least): set where they are built from the store
    options_revision: int | None = None
    # the wall clock of the Bling day (the daily budget's counter and its turn); tests move it
    clock: Callable[[], datetime] = utc_now

    @property
    def tenant(self) -> str:
        return self.settings.tenant

    @cached_property
    def store(self) -> Store:
        if self.shared_store is not None:
            return self.shared_store
        return Store(self.settings.database_url, upgrade=self.settings.database_auto_upgrade)

    @cached_property
    def gate(self) -> TenantGate:
        return TenantGate(self.store, self.tenant)

    @cached_property
    def topology(self) -> Topology:
        return Topology.from_settings(self.settings.bus, self.settings.amqp_url, tenant=self.tenant)

    def apply_settings(self, settings: Settings) -> None:
        """Run with new settings (the tenant's options changed): the clients built from the old ones
        are rebuilt on next use; pollers and handlers are rebuilt by whoever restarts them."""
        if settings.tenant != self.tenant:
            raise ConfigurationError(f"settings of tenant {settings.tenant!r} for tenant {self.tenant!r}")
        self.settings = settings
        for built in ("vault", "bling_egress", "bling_tokens", "bling", "auvo"):
            self.__dict__.pop(built, None)
        if "budget" in self.__dict__:  # in place: the quota watch holds the same guard
            self.budget.budget = DailyBudget.from_settings(settings.bling)

    def declare_topology(self) -> None:
        conn = make_connection(self.settings.amqp_url)
        try:
            self.topology.declare(conn)
        finally:
            conn.release()

    def publisher(self) -> Publisher:
        publisher = Publisher(self.settings.amqp_url, self.topology)
        self._closers.append(publisher.close)
        return publisher

    # --- API clients --------------------------------------------------------------------------

    @cached_property
    def vault(self) -> TokenVault:
        key = self.settings.secret_key.get_secret_value() if self.settings.secret_key else None
        return TokenVault(self.store, self.tenant, key)

    @cached_property
    def bling_egress(self) -> BlingEgress:
        """Bling's per-IP ceilings, shared with every tenant and process of the egress group."""
        return BlingEgress(self.store, self.settings.egress)

    @cached_property
    def bling_tokens(self) -> StoredBlingTokens:
        bling = self.settings.bling

        def refresh(refresh_token: str) -> TokenSet:
            return refresh_tokens(
                bling.base_url,
                bling.client_id or "",
                _secret(bling.client_secret),
                refresh_token,
                timeout=max(bling.token_timeout_seconds, bling.timeout_seconds),
            )

        return StoredBlingTokens(
            self.vault, self.store, refresh, tenant=self.tenant, egress=self.bling_egress
        )

    @cached_property
    def budget(self) -> DailyBudgetGuard:
        """The tenant's daily Bling budget (every throttled Bling call is counted against it)."""
        return DailyBudgetGuard(
            self.store, self.tenant, DailyBudget.from_settings(self.settings.bling), clock=self.clock
        )

    def bling_client(self, *, throttled: bool = True) -> BlingClient:
        bling = self.settings.bling
        # per tenant, not per client_id: an integrator's one Bling app serves many companies, and
        # Bling's quota is per company account; the IP-wide ceilings hold even for `check`'s calls
        account = (
            SharedThrottle(
                self.store,
                f"bling:{self.tenant}",
                per_second=bling.requests_per_second,
                daily=self.budget,
                egress=self.bling_egress,
            )
            if throttled
            else None
        )
        # throttled, the account's slot takes the IP-wide windows in its own transaction
        throttle = ChainedThrottle(account, self.bling_egress.throttle(acquire=account is None))
        client = BlingClient(
            bling.base_url, self.bling_tokens, throttle=throttle, timeout=bling.timeout_seconds
        )
        self._closers.append(client.close)
        return client

    def auvo_client(self, *, throttled: bool = True) -> AuvoClient:
        auvo = self.settings.auvo
        key = _secret(auvo.api_key)
        # Auvo's 400/min is per key or per IP (sources disagree): both are held, each configurable
        throttle = (
            ChainedThrottle(
                SharedThrottle(
                    self.store,
                    f"auvo:{hashlib.sha256(key.encode()).hexdigest()[:12]}",
                    per_second=auvo.requests_per_minute / 60.0,
                ),
                self._auvo_ip_throttle(),
            )
            if throttled
            else None
        )
        client = AuvoClient(
            auvo.base_url, key, _secret(auvo.api_token), throttle=throttle, timeout=auvo.timeout_seconds
        )
        self._closers.append(client.close)
        return client

    def _auvo_ip_throttle(self) -> SharedThrottle | None:
        limit = auvo_ip_limit(self.settings.egress, self.settings.auvo.requests_per_minute)
        if limit is None:
            return None
        bucket, per_second = limit
        return SharedThrottle(self.store, bucket, per_second=per_second)

    @cached_property
    def bling(self) -> BlingClient:
        """The process's Bling client, throttled by the account's shared bucket."""
        return self.bling_client()

    @cached_property
    def auvo(self) -> AuvoClient:
        """The process's Auvo client, throttled by the account's shared bucket."""
        return self.auvo_client()

    # --- flows --------------------------------------------------------------------------------

    @property
    def direction(self) -> Direction:
        return self.settings.customers.direction

    def handlers(self) -> dict[WorkQueue, Handler]:
        """The consumers of the flows the settings enable (auvo_bling/flows.py)."""
        return {flow.queue: flow.handler(self) for flow in FLOWS if flow.enabled(self.settings)}

    def pollers(self, publisher: Publisher) -> list[Poller]:
        """The pollers of the flows the settings enable (auvo_bling/flows.py)."""
        return [flow.poller(self, publisher) for flow in FLOWS if flow.polls(self.settings)]

    def webhook_receiver(self, publisher: Publisher | None = None) -> WebhookReceiver:
        """The webhook receiver, publishing through `publisher` (a short-retry one by default)."""
        from producers.webhooks.auvo_notifications import AuvoEvents
        from producers.webhooks.bling_notifications import BlingIdMapKeeper
        from producers.webhooks.receiver import WebhookReceiver

        hooks = self.settings.webhooks
        if publisher is None:
            publisher = Publisher(self.settings.amqp_url, self.topology, retry_policy=WEBHOOK_RETRY_POLICY)
            self._closers.append(publisher.close)
        events = AuvoEvents(
            self.auvo,
            TaskRules.from_settings(self.settings.tasks),
            customers_enabled=self.direction in (Direction.auvo_to_bling, Direction.both),
            tenant=self.tenant,
            history=self.store,
        )
        from producers.webhooks.bling_catalog_notifications import BlingCatalogEvents

        catalog = self.settings.catalog
        return WebhookReceiver(
            bling_catalog=BlingCatalogEvents(self.bling, self.tenant)
            if catalog.bling_to_auvo
            else None,
            publisher=publisher,
            store=self.store,
            auvo_events=events,
            bling_keeper=BlingIdMapKeeper(self.store, self.tenant),
            bling_client_secret=_secret(self.settings.bling.client_secret),
            auvo_secret=_secret(hooks.auvo_secret),
            tenant=self.tenant,
            max_body_bytes=hooks.max_body_bytes,
            replay_window=timedelta(seconds=hooks.replay_window_seconds),
            bling_outcomes=self._bling_outcome_events(),
        )

    def _bling_outcome_events(self) -> BlingOrderOutcomeEvents | None:
        """Bling's pedido and nota notifications feed the job outcome flow when it is on."""
        from producers.webhooks.bling_order_outcomes import BlingOrderOutcomeEvents

        if not outcome_on(self.settings):
            return None
        return BlingOrderOutcomeEvents(self.store, self.tenant)

    def worker(self, publisher: Publisher) -> QueueWorker:
        bus = self.settings.bus
        return QueueWorker(
            self.settings.amqp_url,
            self.topology,
            self.handlers(),
            publisher,
            policy=RetryPolicy.from_settings(bus),
            overrides=retry_overrides(bus),
            prefetch=bus.prefetch,
            gate=self.gate,
            history=self.store,
            dead_letters=self.store,
        )

    def require_credentials(self) -> None:
        missing = self.settings.required_for_run()
        if missing:
            raise ConfigurationError(f"missing settings for tenant {self.tenant!r}: " + ", ".join(missing))

    def close(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):  # closing is best effort at shutdown
                close()
        if "store" in self.__dict__ and self.shared_store is None:
            self.store.dispose()


def start_thread(target: object, name: str, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread
