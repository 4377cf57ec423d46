"""Auvo customers changed since the cursor -> `auvo.customer.changed` events.

Read: `GET /customers` filtered by `dateLastUpdate >= cursor - overlap`, page by page (Auvo
orders by id, so a record updated during the scan stays in place and is not skipped). Select:
every returned customer is a change (direction settings decide whether this poller runs at
all). Publish with confirms. Advance: the cursor becomes the newest `dateLastUpdate` seen, and
only after every publish was confirmed, so a crash re-reads rather than loses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.customer_fields import fields_from_auvo
from contracts.envelope import Envelope
from contracts.events import AuvoCustomer, auvo_customer_changed
from contracts.store_keys import AUVO_CUSTOMERS_INDEXED as INDEXED
from infra.auvo.wire import from_auvo_datetime, to_auvo_datetime
from infra.store import Store
from producers.decisions import DecisionLog
from producers.polling import EventPublisher, RecentlyPublished, publish_all, quiet_since

CURSOR = "auvo.customers.dateLastUpdate"
PAGE = 100  # events published (with pipelined confirms) at a time


class AuvoCustomerSource(Protocol):
    def iter_customers(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...


def since_filter(
    cursor: str | None, overlap_seconds: float, last_pass_started: datetime | None = None
) -> dict[str, Any]:
    """The paramFilter for a pass: everything on the first pass, then the overlap window (narrowed
    once the source has been quiet: `polling.quiet_since`)."""
    since = quiet_since(
        from_auvo_datetime(cursor) if cursor else None, timedelta(seconds=overlap_seconds), last_pass_started
    )
    return {"dateLastUpdate": to_auvo_datetime(since)} if since is not None else {}


def newest(current: str | None, candidate: str | None) -> str | None:
    """Later of two Auvo timestamps (same naive format, so they compare as strings)."""
    if not candidate:
        return current
    if not current:
        return candidate
    return max(current, candidate.replace(" ", "T"))


class AuvoCustomerPoller:
    name = "auvo.customers"
    pushed = True  # Auvo notifies customer changes by webhook: this poll is the safety net

    def __init__(
        self,
        auvo: AuvoCustomerSource,
        publisher: EventPublisher,
        store: Store,
        *,
        tenant: str = "default",
        overlap_seconds: float = 30.0,
        publish: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """With `publish=False` (direction `bling_to_auvo`) it only keeps the customer index, so
        contatos coming from Bling can find an Auvo customer that already exists."""
        self.auvo = auvo
        self.publisher = publisher
        self.store = store
        self.tenant = tenant
        self.overlap_seconds = overlap_seconds
        self.publish = publish
        self.clock = clock
        self.recent = RecentlyPublished()
        # what was published, per customer, for its story ("Por que não integrou?")
        self.decisions = DecisionLog(store, tenant, "auvo.customer")
        self.last_pass_started: datetime | None = None  # of the last pass that completed

    def poll_once(self) -> int:
        started = self.clock()
        cursor = self.store.cursor(self.tenant, CURSOR)
        high_water = cursor
        published = 0
        page: list[Envelope] = []
        param_filter = since_filter(cursor, self.overlap_seconds, self.last_pass_started)
        for record in self.auvo.iter_customers(param_filter):
            envelope = auvo_customer_changed(record, tenant=self.tenant)
            customer = AuvoCustomer.model_validate(envelope.payload["customer"])
            self.store.index_customer(self.tenant, "auvo", str(customer.id), index_keys(customer))
            page.append(envelope)
            if len(page) >= PAGE:
                published += self._publish(page)
                page = []
            high_water = newest(high_water, record.get("dateLastUpdate"))
        published += self._publish(page)
        self.decisions.flush()
        if high_water and high_water != cursor:
            self.store.set_cursor(self.tenant, CURSOR, high_water)
        if self.store.cursor(self.tenant, INDEXED) is None:
            self.store.set_cursor(self.tenant, INDEXED, "1")
        self.last_pass_started = started
        return published

    def _publish(self, page: list[Envelope]) -> int:
        if not self.publish:
            return 0
        published = publish_all(self.publisher, self.recent, page)
        for envelope in page:
            self.decisions.published(envelope)
        return published


def index_keys(customer: AuvoCustomer) -> dict[str, str]:
    """What a Bling contato can be matched on: the CPF/CNPJ and e-mail normalised exactly as the
    consumers normalise them (`fields_from_auvo`), so an index key and a lookup key always agree."""
    fields = fields_from_auvo(customer)
    return {"document": fields.document, "email": fields.email}
