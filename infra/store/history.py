"""The store: each record's history, the memory behind "Por que não integrou?" (auvo_bling/story).

Rows are written where the decisions are already made and, on the hot path, inside transactions
that already exist: a poller writes one batch per pass (only the records whose version or decision
is new), a handler adds its row to the processed-event commit, and the runner writes one row on the
failure paths (a retry, a dead letter). Nothing here is ever read on the way of an event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select

from contracts.events import (
    AUVO_CUSTOMER_CHANGED,
    AUVO_EXPENSE_RECORDED,
    AUVO_QUOTE_STATUS_REACHED,
    AUVO_TASK_STATUS_REACHED,
    BLING_CONTACT_CHANGED,
)
from infra.store.base import StoreBase, utcnow
from infra.store.tables import record_history


class Kind(StrEnum):
    """What a history row says happened."""

    left_out = "left_out"  # a poller read the record and a rule of the options left it out (code)
    published = "published"  # a poller read the record and published its event
    handled = "handled"  # a consumer committed the event (code: created, updated, skipped_stale...)
    written = "written"  # written outside an event: on demand (a pedido's contato), or the backfill
    retried = "retried"  # a transient failure; the event comes back after a delay (code: error class)
    dead_lettered = "dead_lettered"  # given up: in the DLQ with its diagnosis (code: error class)


# the record an event is about, by event type
SUBJECT_OF_EVENT = {
    AUVO_TASK_STATUS_REACHED: "auvo.task",
    AUVO_QUOTE_STATUS_REACHED: "auvo.quotation",
    AUVO_CUSTOMER_CHANGED: "auvo.customer",
    BLING_CONTACT_CHANGED: "bling.contato",
    AUVO_EXPENSE_RECORDED: "auvo.expense",
}
# the Auvo record an id map entity's `auvo_id` is (contracts.store_keys and the writers' ENTITY)
SUBJECT_OF_LINK = {
    "task": "auvo.task",
    "quote": "auvo.quotation",
    "quote_order": "auvo.quotation",
    "customer": "auvo.customer",
    "expense": "auvo.expense",
}


@dataclass(frozen=True)
class HistoryRow:
    subject: str
    entity_id: str
    kind: Kind | str
    code: str | None = None
    event_id: str | None = None
    version: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None

    def values(self, tenant: str) -> dict[str, Any]:
        return {
            "tenant": tenant,
            "subject": self.subject,
            "entity_id": str(self.entity_id)[:64],
            "at": self.at or utcnow(),
            "kind": str(self.kind),
            "code": None if self.code is None else str(self.code)[:64],
            "event_id": self.event_id,
            "version": None if self.version is None else str(self.version)[:64],
            "details": json.dumps(self.details, ensure_ascii=False, default=str) if self.details else None,
        }


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _row(r: Any) -> HistoryRow:
    return HistoryRow(
        subject=r.subject,
        entity_id=r.entity_id,
        kind=r.kind,
        code=r.code,
        event_id=r.event_id,
        version=r.version,
        details=json.loads(r.details) if r.details else {},
        at=_aware(r.at),
    )


class History(StoreBase):
    def add_history(self, conn: Connection, tenant: str, rows: Sequence[HistoryRow]) -> None:
        """Append rows inside the caller's transaction (one statement for the whole batch)."""
        if rows:
            conn.execute(record_history.insert(), [row.values(tenant) for row in rows])

    def record_history(self, tenant: str, rows: Sequence[HistoryRow]) -> None:
        """Append rows in a transaction of their own (nothing to write: no round trip)."""
        if rows:
            with self.transaction() as conn:
                self.add_history(conn, tenant, rows)

    def history_of(self, tenant: str, subject: str, entity_id: str) -> list[HistoryRow]:
        """One record's rows, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(record_history)
                .where(
                    record_history.c.tenant == tenant,
                    record_history.c.subject == subject,
                    record_history.c.entity_id == str(entity_id),
                )
                .order_by(record_history.c.at, record_history.c.id)
            ).all()
        return [_row(r) for r in rows]

    def history_subjects(self, tenant: str, entity_ids: Iterable[str]) -> list[tuple[str, str]]:
        """Which (subject, entity id) pairs have history among these ids (a bare id may be a task,
        a quotation or a customer: the story asks which)."""
        ids = sorted({str(i) for i in entity_ids})
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(record_history.c.subject, record_history.c.entity_id)
                .where(record_history.c.tenant == tenant, record_history.c.entity_id.in_(ids))
                .distinct()
            ).all()
        return sorted((r.subject, r.entity_id) for r in rows)
