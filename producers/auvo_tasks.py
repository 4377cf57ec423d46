"""Auvo tasks changed since the cursor -> `auvo.task.status_reached` events.

Read: Auvo's `/tasks` requires `startDate`/`endDate`, and those bound the *task date* (when the
work is scheduled), not the change. A task finished today may be dated weeks ago or next month, so
every pass walks the task-date range [now - lookback, now + lookahead] in windows and asks only for
tasks whose `dateLastUpdate` is at or after the cursor minus the overlap (the first pass, without a
cursor, reads the whole range: the backfill). Auvo's status filter of the settings is passed along.

Select: `task_selection.select_task` (pure) with every task option of the guide; the customer
group's members are read once per pass, and only if a task got that far.

Publish with confirms, then advance: the cursor becomes the newest `dateLastUpdate` seen. A task
that gets its values later, or changes after being integrated, has a newer `dateLastUpdate`, so it
is read again and yields a new event (event id = task id, version, status).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.envelope import Envelope
from contracts.events import auvo_task_status_reached
from infra.auvo.wire import AUVO_STATUS_FILTER, from_auvo_datetime, to_auvo_datetime
from infra.store import Store
from producers.auvo_customers import newest
from producers.decisions import DecisionLog
from producers.polling import EventPublisher, RecentlyPublished, publish_new, quiet_since
from producers.task_selection import TaskRules, task_state, why_not_task

CURSOR = "auvo.tasks.dateLastUpdate"


class AuvoTaskSource(Protocol):
    def iter_tasks(
        self,
        start: datetime,
        end: datetime,
        status: int | None = None,
        extra_filter: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]: ...

    def iter_group_clients(self, group_id: int | str) -> Iterator[dict[str, Any]]: ...


def task_date_windows(
    now: datetime, *, lookback_days: int, lookahead_days: int, window_days: int
) -> list[tuple[datetime, datetime]]:
    """Consecutive, non-overlapping [start, end] task-date windows covering the whole range."""
    start = now - timedelta(days=lookback_days)
    end = now + timedelta(days=lookahead_days)
    windows = []
    step = timedelta(days=window_days)
    while start < end:
        stop = min(start + step, end)
        windows.append((start, stop - timedelta(seconds=1) if stop < end else stop))
        start = stop
    return windows


def changed_since(
    cursor: str | None, overlap_seconds: float, last_pass_started: datetime | None = None
) -> dict[str, Any]:
    """The paramFilter part that limits a pass to tasks changed since the cursor (minus overlap,
    narrowed once the source has been quiet: `polling.quiet_since`)."""
    since = quiet_since(
        from_auvo_datetime(cursor) if cursor else None, timedelta(seconds=overlap_seconds), last_pass_started
    )
    return {"dateLastUpdate": to_auvo_datetime(since)} if since is not None else {}


def task_event(
    record: dict[str, Any],
    rules: TaskRules,
    group_members: Callable[[], Collection[int]],
    *,
    tenant: str = "default",
) -> tuple[Envelope | None, str | None]:
    """The event for one task record, or the first rule it fails: the poller and the webhook share it.

    `group_members` is called only when a customer group is configured and the task passes every
    other rule, because reading the group's members costs Auvo requests.
    """
    reason = why_not_task(record, dataclasses.replace(rules, customer_group=None))
    if reason is None and rules.customer_group is not None:
        reason = why_not_task(record, rules, group_members())
    if reason is not None:
        return None, reason
    return auvo_task_status_reached(record, task_state(record).value, tenant=tenant), None


def task_facts(record: dict[str, Any]) -> dict[str, Any]:
    """What a rule looked at, kept with a left-out decision so the story can say why (no PII)."""
    return {
        "state": task_state(record).value,
        "task_type": record.get("taskType"),
        "customer_id": record.get("customerId"),
    }


class AuvoTaskPoller:
    name = "auvo.tasks"
    pushed = True  # Auvo notifies task changes by webhook: this poll is the safety net

    def __init__(
        self,
        auvo: AuvoTaskSource,
        publisher: EventPublisher,
        store: Store,
        rules: TaskRules,
        *,
        tenant: str = "default",
        overlap_seconds: float = 30.0,
        lookback_days: int = 90,
        lookahead_days: int = 30,
        window_days: int = 31,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.auvo = auvo
        self.publisher = publisher
        self.store = store
        self.rules = rules
        self.tenant = tenant
        self.overlap_seconds = overlap_seconds
        self.lookback_days = lookback_days
        self.lookahead_days = lookahead_days
        self.window_days = window_days
        self.clock = clock
        self.recent = RecentlyPublished()
        self.last_pass_started: datetime | None = None  # of the last pass that completed
        # why tasks were left out, by rule, over the poller's life (the demo prints it)
        self.filtered: Counter[str] = Counter()
        # what was seen and decided, per task, for its story ("Por que não integrou?")
        self.decisions = DecisionLog(store, tenant, "auvo.task")

    def poll_once(self) -> int:
        if not self.rules.enabled:
            return 0
        started = self.clock()
        cursor = self.store.cursor(self.tenant, CURSOR)
        high_water = cursor
        published = 0
        members: list[set[int]] = []  # read at most once per pass, and only if a task needs it

        def group_members() -> set[int]:
            if not members:
                members.append(self._group_members())
            return members[0]

        extra = changed_since(cursor, self.overlap_seconds, self.last_pass_started)
        status = AUVO_STATUS_FILTER[self.rules.status]
        seen: set[int] = set()
        windows = task_date_windows(
            self.clock(),
            lookback_days=self.lookback_days,
            lookahead_days=self.lookahead_days,
            window_days=self.window_days,
        )
        for start, end in windows:
            for record in self.auvo.iter_tasks(start, end, status=status, extra_filter=extra):
                high_water = newest(high_water, record.get("dateLastUpdate"))
                task_id = int(record.get("taskID") or 0)
                if task_id in seen:
                    continue
                seen.add(task_id)
                envelope, reason = task_event(record, self.rules, group_members, tenant=self.tenant)
                if envelope is None:
                    self.filtered[str(reason)] += 1
                    self.decisions.left_out(
                        str(task_id), record.get("dateLastUpdate"), str(reason), **task_facts(record)
                    )
                    continue
                published += publish_new(self.publisher, self.recent, envelope)
                self.decisions.published(envelope)
        self.decisions.flush()
        if high_water and high_water != cursor:
            self.store.set_cursor(self.tenant, CURSOR, high_water)
        self.last_pass_started = started
        return published

    def _group_members(self) -> set[int]:
        """Customer ids of the configured group, read once per pass (only when a task needs it)."""
        assert self.rules.customer_group is not None
        return {int(c["id"]) for c in self.auvo.iter_group_clients(self.rules.customer_group) if "id" in c}


__all__ = ["CURSOR", "AuvoTaskPoller", "changed_since", "task_date_windows", "task_event", "task_facts"]
