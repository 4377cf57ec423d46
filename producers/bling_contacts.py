"""Bling contatos changed in a time window -> `bling.contact.changed` events.

Bling has no webhook for contacts, so this polls `GET /contatos` with
`dataAlteracaoInicial`/`dataAlteracaoFinal` (Brasília local time) over [cursor - overlap, now],
then reads each changed contato in full (the list returns only the base fields). The contato
carries no modification stamp, so the content hash identifies the change: re-reading the same
content yields the same event id. The cursor (the window's end) advances after every publish of
the pass was confirmed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.events import bling_contact_changed
from infra.bling.wire import to_bling_datetime
from infra.errors import NotFound
from infra.retry import linear, retry_transient
from infra.store import Store
from producers.decisions import DecisionLog
from producers.polling import EventPublisher, RecentlyPublished, publish_new

CURSOR = "bling.contacts.window_end"
READ_ATTEMPTS = 4


class BlingContactSource(Protocol):
    def iter_contacts(self, **filters: Any) -> Iterator[dict[str, Any]]: ...
    def get_contact(self, contact_id: int) -> dict[str, Any]: ...


def content_version(record: dict[str, Any]) -> str:
    """A stable hash of the contato as Bling returned it."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def window_filters(cursor: str | None, now: datetime, overlap_seconds: float) -> dict[str, Any]:
    filters: dict[str, Any] = {"criterio": 1}
    if cursor:
        start = datetime.fromisoformat(cursor) - timedelta(seconds=overlap_seconds)
        filters["dataAlteracaoInicial"] = to_bling_datetime(start)
        filters["dataAlteracaoFinal"] = to_bling_datetime(now)
    return filters


class BlingContactPoller:
    name = "bling.contacts"

    def __init__(
        self,
        bling: BlingContactSource,
        publisher: EventPublisher,
        store: Store,
        *,
        tenant: str = "default",
        overlap_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bling = bling
        self.publisher = publisher
        self.store = store
        self.tenant = tenant
        self.overlap_seconds = overlap_seconds
        self.clock = clock
        self.recent = RecentlyPublished()
        self.decisions = DecisionLog(store, tenant, "bling.contato")

    def _read(self, contact_id: int) -> dict[str, Any]:
        """One contato in full, retried a few times on a transient failure: the cursor only moves
        after the whole pass, so one flaky read must not throw the pass (and its progress) away."""
        return retry_transient(
            lambda: self.bling.get_contact(contact_id), attempts=READ_ATTEMPTS, backoff=linear(0.2)
        )

    def poll_once(self) -> int:
        cursor = self.store.cursor(self.tenant, CURSOR)
        window_end = self.clock().replace(microsecond=0)
        published = 0
        filters = window_filters(cursor, window_end, self.overlap_seconds)
        ids = [int(item["id"]) for item in self.bling.iter_contacts(**filters)]
        for contact_id in ids:
            try:
                record = self._read(contact_id)
            except NotFound:
                continue  # deleted between the list and the read
            version = content_version(record)
            envelope = bling_contact_changed(
                record, observed_at=window_end, content_version=version, tenant=self.tenant
            )
            published += publish_new(self.publisher, self.recent, envelope)
            self.decisions.published(envelope)
        self.decisions.flush()
        self.store.set_cursor(self.tenant, CURSOR, window_end.isoformat())
        return published
