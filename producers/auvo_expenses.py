"""Auvo expenses -> `auvo.expense.recorded` events (the optional "Contas a Pagar" flow).

Auvo's `/expenses` needs a date range and its records carry no change stamp, so every pass reads
the expenses dated in the last `lookback_days` and publishes those whose content it has not
published yet (the content hash is the event's identity; consumers drop repeats anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.events import auvo_expense_recorded
from producers.polling import EventPublisher, RecentlyPublished, publish_all


class AuvoExpenseSource(Protocol):
    def iter_expenses(
        self, start: datetime, end: datetime, extra_filter: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]: ...


class AuvoExpensePoller:
    name = "auvo.expenses"

    def __init__(
        self,
        auvo: AuvoExpenseSource,
        publisher: EventPublisher,
        *,
        tenant: str = "default",
        lookback_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.auvo = auvo
        self.publisher = publisher
        self.tenant = tenant
        self.lookback_days = lookback_days
        self.clock = clock
        self.recent = RecentlyPublished()

    def poll_once(self) -> int:
        now = self.clock().replace(microsecond=0)
        start = now - timedelta(days=self.lookback_days)
        events = [
            auvo_expense_recorded(record, observed_at=now, tenant=self.tenant)
            for record in self.auvo.iter_expenses(start, now + timedelta(days=1))
        ]
        return publish_all(self.publisher, self.recent, events)
