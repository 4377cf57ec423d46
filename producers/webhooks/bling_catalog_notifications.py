"""Bling's `product` and `stock` notifications -> the catalogue flow's `bling.product.changed` event.

With `catalog.bling_to_auvo` on, a produto created or changed in Bling, or a stock movement
(`stock.*`, `virtual_stock.updated`, whose `data` names the produto as `produto.id`), publishes the
very event the poller would (same constructor), so a stock change reaches Auvo in about a second
instead of at the next sweep. The snapshot is the notification's `data` when it carries every field
the event reads (Bling's product notifications do); otherwise the produto is read with one
`GET /produtos?idsProdutos[]=<id>` (the list carries the stock; `GET /produtos/{id}` would not say
more). Deletions publish nothing here: `BlingIdMapKeeper` forgets the link.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts.envelope import Envelope
from contracts.events import BlingProduto, bling_product_changed
from producers.webhooks.bling_notifications import DELETED, BlingNotification

PRODUCT_RESOURCES = frozenset({"product", "produto", "products"})
STOCK_RESOURCES = frozenset({"stock", "virtual_stock", "estoque", "estoques"})
CATALOG_RESOURCES = PRODUCT_RESOURCES | STOCK_RESOURCES


class BlingProdutoReads(Protocol):
    def iter_products(self, **filters: Any) -> Iterator[dict[str, Any]]: ...


def _complete(data: dict[str, Any]) -> bool:
    return set(BlingProduto.model_fields) <= set(data)


@dataclass
class BlingCatalogEvents:
    bling: BlingProdutoReads
    tenant: str = "default"
    outcomes: dict[str, int] = field(default_factory=dict)

    def events(self, notification: BlingNotification, data: Any) -> list[Envelope]:
        if notification.resource not in CATALOG_RESOURCES:
            return []
        if notification.action in DELETED:
            return self._skip("ignored_deletion")
        observed = datetime.now(UTC)
        if notification.resource in PRODUCT_RESOURCES and isinstance(data, dict) and _complete(data):
            record: dict[str, Any] | None = data
        else:
            self._count("read")
            listed = self.bling.iter_products(**{"idsProdutos[]": [notification.record_id]})
            record = next((r for r in listed if str(r.get("id")) == notification.record_id), None)
        if record is None:
            return self._skip("gone")
        self._count("published")
        return [bling_product_changed(record, observed_at=observed, tenant=self.tenant)]

    def _skip(self, why: str) -> list[Envelope]:
        self._count(why)
        return []

    def _count(self, what: str) -> None:
        self.outcomes[what] = self.outcomes.get(what, 0) + 1
