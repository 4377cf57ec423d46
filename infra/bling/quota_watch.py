"""A tenant paused for the daily quota resumes by itself: when a probe succeeds or the Bling day turns.

Every process that serves the tenant runs one watch; they share the probe through a lease in the
store (`<tenant>:quota-probe`, never released, so it expires after `probe_seconds`): at most one
probe per interval for the whole deployment, whatever the number of processes. A pause of any
other cause is not this module's business and is never lifted here.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date

import structlog

from infra import metrics
from infra.bling.budget import DailyBudgetGuard
from infra.errors import QUOTA_PAUSE_CLASSES, DailyQuota, IntegrationError
from infra.quota import bling_day, quota_pause_step
from infra.store import Store, TenantPause
from infra.tenant_gate import TenantGate

log = structlog.get_logger("quota")

PAUSE_DAY_CURSOR = "quota-pause-day"
CHECK_SECONDS = 2.0
METRICS_SECONDS = 15.0  # the budget gauges: one read of the day's count per tenant and interval


class QuotaWatch:
    def __init__(
        self,
        store: Store,
        gate: TenantGate,
        guard: DailyBudgetGuard,
        probe: Callable[[], object],
        *,
        probe_seconds: float,
    ) -> None:
        self.store = store
        self.gate = gate
        self.tenant = gate.tenant
        self.guard = guard
        self.probe = probe
        self.probe_seconds = probe_seconds
        self._ticks = 0  # the budget metrics are observed every METRICS_SECONDS of ticks
        self.probes = 0

    def step(self) -> str:
        """One look at the tenant's pause; returns what was done (idle, wait, probe-failed, resumed)."""
        # the gate's cached read (shared with the consumers' watch): nothing extra while active
        pause = self.gate.pause_of()
        if pause is not None and pause.error_class in QUOTA_PAUSE_CLASSES:
            pause = self.gate.pause_of(fresh=True)
        if pause is None or pause.error_class not in QUOTA_PAUSE_CLASSES:
            return "idle"
        today = bling_day(self.guard.clock())
        view = self.guard.view()
        action = quota_pause_step(
            pause.error_class,
            self._pause_day(pause, today),
            today,
            used=view.used,
            budget=view.budget,
            probe_due=pause.error_class != "DailyBudgetSpent" and self._probe_slot(),
        )
        if action == "probe":
            self.probes += 1
            try:
                self.probe()
            except DailyQuota as exc:
                log.info("quota probe: still spent", tenant=self.tenant, **exc.diagnosis())
                return "probe-failed"
            except IntegrationError as exc:
                log.warning("quota probe failed", tenant=self.tenant, **exc.diagnosis())
                return "probe-failed"
        elif action == "wait":
            return "wait"
        if self.store.resume_tenant(self.tenant, only=QUOTA_PAUSE_CLASSES) is not None:
            log.info(
                "daily quota back: tenant resumes",
                tenant=self.tenant,
                cause=pause.error_class,
                by="probe" if action == "probe" else "day turned",
                **view.as_dict(),
            )
        self.gate.pause_of(fresh=True)
        return "resumed"

    def _probe_slot(self) -> bool:
        owner = f"probe-{uuid.uuid4().hex}"  # a new owner each time: the lease cannot be renewed early
        return self.store.try_lock(f"{self.tenant}:quota-probe", owner, self.probe_seconds)

    def _pause_day(self, pause: TenantPause, today: date) -> date:
        """The Bling day the pause began in, on the watch's clock (the pause row is stamped with the
        database's), noted by the first watch that sees this pause."""
        stamp = pause.paused_at.isoformat()
        noted = self.store.cursor(self.tenant, PAUSE_DAY_CURSOR)
        if noted is not None:
            at, _, day = noted.partition("|")
            if at == stamp:
                return date.fromisoformat(day)
        self.store.set_cursor(self.tenant, PAUSE_DAY_CURSOR, f"{stamp}|{today.isoformat()}")
        return today

    def run(self, stop: threading.Event, check_seconds: float = CHECK_SECONDS) -> None:
        while not stop.wait(check_seconds):
            self.tick(check_seconds)

    def tick(self, check_seconds: float = CHECK_SECONDS, *, observe: bool = True) -> None:
        """One look (every `check_seconds`; the budget metrics every METRICS_SECONDS unless a
        look at every tenant observes them: `observe=False`), never fatal: run by the watch's own
        thread, or by a process's one thread for all its tenants."""
        every = max(1, round(METRICS_SECONDS / check_seconds))
        try:
            if observe and self._ticks % every == 0:
                self.observe()
            self._ticks += 1
            self.step()
        except Exception as exc:  # the database is away: look again next time
            log.warning("could not check the quota pause", tenant=self.tenant, error=str(exc))

    def observe(self, used: int | None = None) -> None:
        view = self.guard.view(used)
        metrics.observe_budget(self.tenant, view.used, view.budget, view.remaining, view.projected)
