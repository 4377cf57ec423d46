"""Bling produtos changed, or whose stock moved -> `bling.product.changed` events (the safety net
behind Bling's `product` and `stock` webhooks).

Cheap by construction: `GET /produtos` lists price, cost, situação and stock (ProdutosDadosBaseDTO),
so a page of 100 produtos is read in full with one request, and no produto is read one by one.

- Every pass lists the produtos changed in [cursor - overlap, now - LAG] (`dataAlteracaoInicial/
  Final`, Brasília time, as the contatos poller does): an edit committed late is still inside the
  overlap of the next pass, so it is never missed.
- A stock movement does not change a produto's `dataAlteracao`, so every `sweep_seconds` (and on
  the first pass) the pass lists the whole catalogue instead. With webhooks on, a stock change
  arrives within a second by push; the sweep is only what catches a lost notification.
- What this poller published for each produto is remembered (its snapshot's hash): a produto listed
  again unchanged (the overlap, a sweep) publishes nothing. The event id covers the observation
  too (a stock that goes 10 -> 9 -> 10 is three changes), so after a restart a sweep republishes
  once and the consumer drops the repeats by its fingerprint, without an Auvo request.

The cursor and the memory move only after every publish of the pass was confirmed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts.events import BlingProduto, bling_product_changed
from producers.bling_contacts import window_filters
from producers.contact_reads import LAG
from producers.polling import EventPublisher, RecentlyPublished, publish_all

CURSOR = "bling.products.window_end"
SWEPT = "bling.products.swept_at"
STREAM = "bling.products"  # the webhook stream of produtos and stock (nudges this poller)


class BlingProdutoSource(Protocol):
    def iter_products(self, **filters: Any) -> Iterator[dict[str, Any]]: ...


class CursorStore(Protocol):
    def cursor(self, tenant: str, key: str) -> str | None: ...
    def set_cursor(self, tenant: str, key: str, value: str) -> None: ...


def snapshot_hash(record: dict[str, Any]) -> str:
    """The hash of what the event carries of a produto (fields Auvo does not show do not count)."""
    return hashlib.sha256(BlingProduto.model_validate(record).model_dump_json().encode()).hexdigest()[:16]


class BlingCatalogPoller:
    name = STREAM
    pushed = True  # Bling has produto and estoque webhooks: this poll is the safety net

    def __init__(
        self,
        bling: BlingProdutoSource,
        publisher: EventPublisher,
        store: CursorStore,
        *,
        tenant: str = "default",
        overlap_seconds: float = 30.0,
        sweep_seconds: float = 900.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bling = bling
        self.publisher = publisher
        self.store = store
        self.tenant = tenant
        self.overlap_seconds = overlap_seconds
        self.sweep_seconds = sweep_seconds
        self.clock = clock
        self.recent = RecentlyPublished()
        self.published_state: dict[int, str] = {}  # produto id -> hash of the snapshot last published

    def _sweep_due(self, now: datetime) -> bool:
        swept = self.store.cursor(self.tenant, SWEPT)
        return swept is None or (now - datetime.fromisoformat(swept)).total_seconds() >= self.sweep_seconds

    def poll_once(self) -> int:
        now = self.clock()
        window_end = now.replace(microsecond=0) - LAG
        sweep = self._sweep_due(now)
        cursor = None if sweep else self.store.cursor(self.tenant, CURSOR)
        filters = window_filters(cursor, window_end, self.overlap_seconds)
        observed = self.clock()
        fresh: dict[int, tuple[str, dict[str, Any]]] = {}
        for record in self.bling.iter_products(**filters):
            produto_id = int(record["id"])
            state = snapshot_hash(record)
            if self.published_state.get(produto_id) != state:
                fresh[produto_id] = (state, record)
        envelopes = [
            bling_product_changed(record, observed_at=observed, tenant=self.tenant)
            for _, record in fresh.values()
        ]
        published = publish_all(self.publisher, self.recent, envelopes)
        for produto_id, (state, _) in fresh.items():
            self.published_state[produto_id] = state
        self.store.set_cursor(self.tenant, CURSOR, window_end.isoformat())
        if sweep:
            self.store.set_cursor(self.tenant, SWEPT, now.isoformat())
        return published
