"""A running process follows its tenants' company options without a restart.

One small thread per tenant reads the tenant's options revision (one row) every few seconds;
when it moved, it rebuilds the tenant's settings with the same precedence as at start
(auvo_bling/company_options.py) and, if they differ from what runs, hands them to `apply`, which
restarts the tenant's poll loops and consumer threads on them (auvo_bling/runtime.py). Then it
records which revision this process applied, when, as "host:pid", for the console to show.

A check costs one indexed read; the poll interval is seconds, so a change is live well within
one interval. Options that fail to load (a saved value the bootstrap made invalid) leave the
running settings as they are and are logged, never fatal: a running integration keeps running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from auvo_bling.company_options import process_id, tenant_settings
from auvo_bling.wiring import App
from infra.settings import TENANT_SECTIONS, Settings

log = structlog.get_logger("options")

# at most this long between two reads of the revision (and never more than the poll interval)
MAX_CHECK_SECONDS = 1.0

# Settings only the pollers read (auvo_bling/flows.py, producers/): a change of these alone
# restarts the poll loops and leaves the consumer threads consuming. Anything not listed restarts
# both, so a handler that starts reading one of these must take it off this list.
POLLER_ONLY = frozenset(
    {
        "tasks.status",
        "tasks.task_types",
        "tasks.customer_group",
        "tasks.lookback_days",
        "tasks.lookahead_days",
        "tasks.window_days",
        "quotes.stage",
        "quotes.lookback_days",
        "expenses.lookback_days",
        "poll",
        "webhooks",
    }
)


def changed_settings(a: Settings, b: Settings) -> set[str]:
    """The tenant settings that differ, as dotted names ("tasks.status") or whole sections."""
    changed: set[str] = set()
    for section in TENANT_SECTIONS:
        old, new = getattr(a, section), getattr(b, section)
        if old == new:
            continue
        if section in POLLER_ONLY:
            changed.add(section)
            continue
        changed.update(
            f"{section}.{name}" for name in type(old).model_fields if getattr(old, name) != getattr(new, name)
        )
    return changed


def same_options(a: Settings, b: Settings) -> bool:
    """True when a restart on `b` would change nothing the tenant's pieces read."""
    return not changed_settings(a, b)


def consumers_affected(a: Settings, b: Settings) -> bool:
    return bool(changed_settings(a, b) - POLLER_ONLY)


class OptionsWatcher:
    def __init__(
        self,
        app: App,
        bootstrap: Settings,
        apply: Callable[[Settings], None],
        *,
        check_seconds: float | None = None,
        process: str | None = None,
    ) -> None:
        self.app = app
        self.bootstrap = bootstrap
        self.apply = apply
        self.check_seconds = check_seconds or min(MAX_CHECK_SECONDS, app.settings.poll_interval())
        self.process = process or process_id()
        self.applied: int | None = None

    def check_once(self) -> bool:
        """Apply the saved options if their revision moved; True when the tenant was restarted."""
        tenant = self.app.tenant
        revision = self.app.store.options_revision(tenant).revision
        if revision == self.applied:
            return False
        wanted = tenant_settings(self.app.store, self.bootstrap, tenant)
        restarted = not same_options(wanted, self.app.settings)
        if restarted:
            log.info(
                "company options changed: restarting the tenant's pollers and consumers",
                tenant=tenant,
                revision=revision,
            )
            self.apply(wanted)
        self.app.store.note_options_applied(tenant, self.process, revision)
        if self.applied is not None or restarted:
            log.info("company options applied", tenant=tenant, revision=revision, process=self.process)
        self.applied = revision
        return restarted

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check_once()
            except Exception as exc:  # the database is away or an option no longer loads: keep running
                log.warning(
                    "could not apply the company options; running ones kept",
                    tenant=self.app.tenant,
                    error=str(exc),
                )
            stop.wait(self.check_seconds)
