"""A running process follows its tenants' company options without a restart.

One small thread per tenant reads the tenant's options revision (one row) once a second;
when it moved, it rebuilds the tenant's settings with the same precedence as at start
(auvo_bling/company_options.py) and, if they differ from what runs, hands them to `apply`, which
restarts the tenant's poll loops and consumer threads on them (auvo_bling/runtime.py). Then it
records which revision this process applied, when, as "host:pid", for the console to show.

A check costs one indexed read, so it runs once a second (or every poll interval, if shorter) and
a change is live well within one poll interval. Options that fail to load (a saved value the
bootstrap made invalid) leave the running settings as they are and are logged, never fatal: a
running integration keeps running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from auvo_bling.company_options import process_id, tenant_settings
from auvo_bling.wiring import App
from infra.settings import TENANT_SECTIONS, Settings
from producers.auvo_tasks import CURSOR as TASKS_CURSOR
from producers.polling import Poller

if TYPE_CHECKING:
    from producers.webhooks.receiver import WebhookReceiver

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


# the cursors a poller forgets when a saved option widened what it selects (see RereadFirst)
REREAD_CURSORS: dict[str, tuple[str, ...]] = {"auvo.tasks": (TASKS_CURSOR,)}


class RereadFirst:
    """A poller that, on its first pass, carries out a re-read a saved option asked for.

    The task poller's cursor is the newest change it has seen, so a task the old "Status das
    tarefas" left out stays behind the cursor until it changes again. After such a save, the first
    pass of a poller built from that revision (only the polling leader makes passes) forgets the
    cursor, once for all processes (Store.claim_reread), and reads the whole lookback; what was
    already integrated is dropped downstream as a duplicate.
    """

    def __init__(self, poller: Poller, app: App, revision: int, cursors: tuple[str, ...]) -> None:
        self.poller = poller
        self.name = poller.name
        self.app = app
        self.revision = revision
        self.cursors = cursors
        self._checked = False

    def poll_once(self) -> int:
        if not self._checked:
            claimed = self.app.store.claim_reread(self.app.tenant, self.revision, self.cursors)
            self._checked = True
            if claimed is not None:
                log.info(
                    "company options widened the selection: re-reading the lookback",
                    tenant=self.app.tenant,
                    poller=self.name,
                    revision=claimed,
                )
        return self.poller.poll_once()

    def __getattr__(self, item: str) -> Any:
        return getattr(self.poller, item)


def with_rereads(app: App, pollers: list[Poller]) -> list[Poller]:
    """The tenant's pollers, those with a cursor wrapped in RereadFirst (when the revision is known)."""
    if app.options_revision is None:
        return pollers
    return [
        RereadFirst(p, app, app.options_revision, REREAD_CURSORS[p.name]) if p.name in REREAD_CURSORS else p
        for p in pollers
    ]


def follow_in_receiver(app: App, receiver: WebhookReceiver) -> Callable[[Settings], None]:
    """For `webhooks serve`: new options swap the receiver's task rules, customer direction and
    Bling signing secret in place (one attribute each), so the next notification uses them."""

    def apply(settings: Settings) -> None:
        app.apply_settings(settings)
        fresh = app.webhook_receiver(receiver.publisher)
        receiver.auvo_events = fresh.auvo_events
        receiver.bling_client_secret = fresh.bling_client_secret

    return apply


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
        self.check_seconds = check_seconds or min(MAX_CHECK_SECONDS, app.settings.poll.interval_seconds)
        self.process = process or process_id()
        self.applied: int | None = None
        # what `apply` last finished with: an apply that raised halfway (the database away while
        # the consumers restarted) is done again on the next check, not recorded as applied
        self.running_settings = app.settings

    def check_once(self, revision: int | None = None) -> bool:
        """Apply the saved options if their revision moved (`revision`: read already, with every
        tenant's at once); True when the tenant was restarted."""
        tenant = self.app.tenant
        if revision is None:
            revision = self.app.store.options_revision(tenant).revision
        if revision == self.applied:
            return False
        wanted = tenant_settings(self.app.store, self.bootstrap, tenant)
        restarted = not same_options(wanted, self.running_settings)
        self.app.options_revision = revision  # before `apply`: its pollers are built from this one
        if restarted:
            log.info(
                "company options changed: restarting the tenant's pollers and consumers",
                tenant=tenant,
                revision=revision,
            )
            self.apply(wanted)
            self.running_settings = wanted
        self.app.store.note_options_applied(tenant, self.process, revision)
        if self.applied is not None or restarted:
            log.info("company options applied", tenant=tenant, revision=revision, process=self.process)
        self.applied = revision
        return restarted

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.tick()
            stop.wait(self.check_seconds)

    def tick(self, revision: int | None = None) -> None:
        """One `check_once`, never fatal (its own thread's loop, or a process's one watch thread)."""
        try:
            self.check_once(revision)
        except Exception as exc:  # the database is away or an option no longer loads: keep running
            log.warning(
                "could not apply the company options; running ones kept",
                tenant=self.app.tenant,
                error=str(exc),
            )
