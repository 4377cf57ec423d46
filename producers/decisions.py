"""What a poller saw and decided, for each record's history (infra/store/history.py).

Pollers re-read an overlap window on every pass, so the same record and the same decision come
by again and again; only a (record, version, decision) not noted recently is written, all of a
pass in one batch (one transaction, none at all on a pass where nothing new was seen).
"""

from __future__ import annotations

from typing import Protocol

import structlog

from contracts.envelope import Envelope
from infra.logging import scrub
from infra.store.history import SUBJECT_OF_EVENT, HistoryRow, Kind
from producers.polling import RecentlyPublished

log = structlog.get_logger("producer")


class HistorySink(Protocol):
    def record_history(self, tenant: str, rows: list[HistoryRow]) -> None: ...


class DecisionLog:
    """Collects a pass's new decisions and writes them at the end of the pass."""

    def __init__(
        self, store: HistorySink | None, tenant: str, subject: str, *, capacity: int = 50_000
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.subject = subject
        self._seen = RecentlyPublished(capacity)
        self._pending: list[HistoryRow] = []

    def left_out(self, entity_id: str, version: str | None, reason: str, **details: object) -> None:
        self._note(
            HistoryRow(self.subject, str(entity_id), Kind.left_out, reason, None, version, dict(details))
        )

    def published(self, envelope: Envelope) -> None:
        subject = SUBJECT_OF_EVENT.get(envelope.type, self.subject)
        row = HistoryRow(
            subject, envelope.entity_id, Kind.published, None, envelope.event_id, envelope.entity_version
        )
        self._note(row)

    def _note(self, row: HistoryRow) -> None:
        # an event id already names the record's version (a quote's entity_version is the time
        # it was observed, which changes on every pass)
        key = row.event_id or f"{row.entity_id}|{row.version}|{row.kind}|{row.code}"
        if key in self._seen:
            return
        self._seen.add(key)
        self._pending.append(row)

    def flush(self) -> int:
        """Write what this pass noted. History must never stop the events themselves: a failed
        write is logged, and the memory forgotten so that the next pass notes those records again."""
        rows, self._pending = self._pending, []
        if not rows or self.store is None:
            return 0
        try:
            self.store.record_history(self.tenant, rows)
        except Exception as exc:
            self._seen = RecentlyPublished(self._seen.capacity)
            log.warning(
                "could not write the poll's history",
                subject=self.subject,
                rows=len(rows),
                error=scrub(str(exc)),
            )
            return 0
        return len(rows)
