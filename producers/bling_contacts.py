"""Bling contatos changed in a time window -> `bling.contact.changed` events.

Bling has no webhook for contacts, so this polls `GET /contatos` with
`dataAlteracaoInicial`/`dataAlteracaoFinal` (Brasília local time) over [cursor - overlap, now],
then reads in full (the list returns only the base fields) the contatos that `ReadMemory` says may
have changed since they were last read: a contato listed again only because its change is still
inside the overlap is not read again (producers/contact_reads.py says how that stays safe for
changes committed late). The contato carries no modification stamp, so the content hash
identifies the change: re-reading the same content yields the same event id. The cursor (the
window's end) advances after every publish of the pass was confirmed.
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
from producers.contact_reads import LAG, ReadMemory
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
        self.memory = ReadMemory(timedelta(seconds=overlap_seconds))
        self.full_reads = 0  # GET /contatos/{id} sent, for bench/quota_cost.py

    def _read(self, contact_id: int) -> dict[str, Any]:
        """One contato in full, retried a few times on a transient failure: the cursor only moves
        after the whole pass, so one flaky read must not throw the pass (and its progress) away."""

        def read() -> dict[str, Any]:
            self.full_reads += 1
            return self.bling.get_contact(contact_id)

        return retry_transient(read, attempts=READ_ATTEMPTS, backoff=linear(0.2))

    def poll_once(self) -> int:
        cursor = self.store.cursor(self.tenant, CURSOR)
        # the window ends LAG before now: every stamp it covers was given (in Bling's whole seconds)
        # well before the list ran, so a later stamp is a later change (contact_reads.py)
        window_end = self.clock().replace(microsecond=0) - LAG
        overlap = timedelta(seconds=self.overlap_seconds)
        window_start = datetime.fromisoformat(cursor) - overlap if cursor else None
        filters = window_filters(cursor, window_end, self.overlap_seconds)
        listed = {int(item["id"]): item for item in self.bling.iter_contacts(**filters)}
        plan = self.memory.plan(listed, window_start, window_end)
        to_read = list(plan.read)
        for check in plan.settle:
            moved = self.bling.iter_contacts(
                criterio=1,
                **{"idsContatos[]": check.ids},
                dataAlteracaoInicial=check.since,
                dataAlteracaoFinal=window_end,
            )
            for item in moved:
                contact_id = int(item["id"])
                listed[contact_id] = item
                if contact_id not in to_read:
                    to_read.append(contact_id)
        published = 0
        read: list[int] = []
        gone: list[int] = []
        for contact_id in to_read:
            try:
                record = self._read(contact_id)
            except NotFound:
                gone.append(contact_id)  # deleted between the list and the read
                continue
            version = content_version(record)
            envelope = bling_contact_changed(
                record, observed_at=window_end, content_version=version, tenant=self.tenant
            )
            published += publish_new(self.publisher, self.recent, envelope)
            self.decisions.published(envelope)
            read.append(contact_id)
        self.decisions.flush()
        # the memory learns only from a pass whose every publish was confirmed, like the cursor
        for check in plan.settle:
            self.memory.settled(check)
        for contact_id in read:
            self.memory.read(contact_id, listed[contact_id], window_end)
        for contact_id in gone:
            self.memory.forget(contact_id)
        self.memory.prune(window_end - overlap)
        self.store.set_cursor(self.tenant, CURSOR, window_end.isoformat())
        return published
