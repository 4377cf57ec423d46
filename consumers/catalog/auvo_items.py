"""Pure translation of a Bling produto into the Auvo product or service that shows it.

What Auvo's API accepts decides the shape (blueprint "Products", "Services"):
- a product is created by `POST /products/` with `name`, `externalId`, `unitaryValue`, `unitaryCost`
  (decimal strings, as the blueprint's "12,00"), `totalStock` and `active`, and changed by
  `PATCH /products/{id}` (JSON Patch, `replace` ops on the same attributes). `code` is in Auvo's
  product record but in neither request: the company's SKU cannot be written through the API, so the
  link is `externalId` = the produto's id (what item 1's matching rule reads) and the id map;
- a service is `title`, `price` (a number) and `active`, by `POST /services/` and
  `PATCH /services/{id}`; it has no `externalId` and no stock: the id map alone links it.

Only the fields that differ go into a patch, so a record already in Bling's state is not written
(and Auvo's `dateLastUpdate` does not move for nothing).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from consumers.sales.mapping import LineKind
from contracts.events import BlingProduto
from infra.auvo.wire import auvo_number

CENT = Decimal("0.01")
NAME_MAX = 120
SERVICE_TIPOS = frozenset({"S", "N"})  # Bling: S serviço, N serviço 06 21 22


@dataclass(frozen=True)
class CatalogItem:
    """What Auvo shows of one produto, in neutral form (Decimals as strings, for the fingerprint)."""

    kind: LineKind
    bling_id: str
    name: str
    price: str
    cost: str
    active: bool
    stock: str | None  # products only

    def fingerprint(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _cents(value: Any) -> Decimal:
    return auvo_number(value).quantize(CENT, ROUND_HALF_UP)


def _stock(value: Any) -> Decimal:
    return auvo_number(value).normalize()


def catalog_item(produto: BlingProduto) -> CatalogItem:
    kind: LineKind = "service" if (produto.tipo or "P").upper() in SERVICE_TIPOS else "product"
    stock = produto.estoque.saldoVirtualTotal if produto.estoque else None
    return CatalogItem(
        kind=kind,
        bling_id=str(produto.id),
        name=(produto.nome or produto.codigo or f"Produto {produto.id}").strip()[:NAME_MAX],
        price=str(_cents(produto.preco)),
        cost=str(_cents(produto.precoCusto)),
        active=(produto.situacao or "A").upper() != "I",
        stock=str(_stock(stock)) if kind == "product" else None,
    )


def _auvo_money(text: str) -> str:
    """Auvo's decimal string, as the blueprint writes it: "12,00"."""
    return text.replace(".", ",")


def _stock_number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral() else float(value)


def _wanted(item: CatalogItem) -> dict[str, Any]:
    """The attributes Auvo should hold, as its requests spell them."""
    if item.kind == "service":
        return {"title": item.name, "price": float(item.price), "active": item.active}
    assert item.stock is not None
    return {
        "name": item.name,
        "externalId": item.bling_id,
        "unitaryValue": _auvo_money(item.price),
        "unitaryCost": _auvo_money(item.cost),
        "totalStock": _stock_number(item.stock),
        "active": item.active,
    }


def create_body(item: CatalogItem) -> dict[str, Any]:
    """`POST /products/` or `POST /services/`."""
    return _wanted(item)


def _same(attribute: str, wanted: Any, current: Any) -> bool:
    if attribute in ("unitaryValue", "unitaryCost", "price"):
        return _cents(wanted) == _cents(current)
    if attribute == "totalStock":
        return _stock(wanted) == _stock(current)
    if attribute == "active":
        return bool(wanted) == (current not in (False, "false", "False", 0))
    return str(wanted or "") == str(current or "")


def patch_ops(item: CatalogItem, current: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch that brings Auvo's record to the produto's state ([] when it already is)."""
    lowered = {str(k).lower(): v for k, v in current.items()}
    return [
        {"op": "replace", "path": attribute, "value": value}
        for attribute, value in _wanted(item).items()
        if not _same(attribute, value, lowered.get(attribute.lower()))
    ]


def auvo_record_id(kind: LineKind, record: Mapping[str, Any]) -> str:
    """The id Auvo gives the record: a product's `productId`, a service's `id` (both GUIDs)."""
    return str(record.get("productId") if kind == "product" else record.get("id"))
