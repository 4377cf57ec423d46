"""Auvo products and services as Bling produtos, created on demand when a sales document needs them.

One Bling produto per Auvo product or service, however many pedidos and propostas sell it and
however many consumers run: the id map (entities "product" / "service") answers first; without a
link, the produto is looked up by its `codigo` (`AUVO-P-<id>` / `AUVO-S-<id>`, listable with
`codigos[]`) under a per-item lock, and created only if absent. The link is committed right after
the create, so a crash before that commit is healed by the codigo lookup on the next attempt; a
create that timed out is waited for (EntityBusy) before anyone concludes it never happened.

An existing Bling produto is used as it is (its price and name belong to whoever keeps the Bling
catalogue); the pedido's items carry the task's own unit values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from consumers.base import client_timeout, noted_create, refuse_while_create_in_doubt
from consumers.sales.mapping import LineKind, ProductIds, SaleLine, product_body
from infra.bling.tokens import process_owner
from infra.errors import EntityBusy
from infra.store import Store

# the write-intent namespace of produto creates (shared by the orders and the proposals flows)
CATALOG = "catalog"


class BlingProducts(Protocol):
    def iter_products(self, **filters: Any) -> Iterator[dict[str, Any]]: ...
    def create_product(self, body: dict[str, Any]) -> int: ...


class BlingCatalog:
    def __init__(self, store: Store, bling: BlingProducts, *, lock_wait_seconds: float = 10.0) -> None:
        self.store = store
        self.bling = bling
        self.lock_wait_seconds = lock_wait_seconds

    def ensure_products(self, tenant: str, lines: Iterable[SaleLine]) -> ProductIds:
        """Bling produto id of every line's product or service, created where missing."""
        out: dict[tuple[LineKind, str], int] = {}
        for line in lines:
            key = (line.kind, line.auvo_id)
            if key not in out:
                out[key] = self.ensure_product(tenant, line)
        return out

    def ensure_product(self, tenant: str, line: SaleLine) -> int:
        known = self.store.bling_id_for(tenant, line.kind, line.auvo_id)
        if known is not None:
            return int(known)
        name = f"{tenant}:catalog:{line.kind}:{line.auvo_id}"
        with self.store.lock(
            name, process_owner(), ttl_seconds=60.0, wait_seconds=self.lock_wait_seconds
        ) as got:
            if not got:
                raise EntityBusy(f"Bling produto for Auvo {line.kind} {line.auvo_id} is being created")
            known = self.store.bling_id_for(tenant, line.kind, line.auvo_id)
            if known is not None:
                return int(known)
            intent = f"{line.kind}:{line.auvo_id}"
            bling_id = self._find(line.code)
            result = "linked"
            if bling_id is None:
                refuse_while_create_in_doubt(
                    self.store.intent_noted_at(tenant, CATALOG, intent),
                    client_timeout(self.bling),
                    f"the Bling produto of Auvo {line.kind} {line.auvo_id}",
                )
                body = product_body(line)
                bling_id = noted_create(
                    self.store, tenant, CATALOG, intent, lambda: self.bling.create_product(body)
                )
                result = "created"
            with self.store.transaction() as conn:
                self.store.link(conn, tenant, line.kind, line.auvo_id, str(bling_id))
                self.store.clear_intent(conn, tenant, CATALOG, intent)
                self.store.bump(conn, tenant, f"catalog.{line.kind}.{result}")
            return int(bling_id)

    def _find(self, code: str) -> int | None:
        for item in self.bling.iter_products(**{"codigos[]": [code]}):
            if item.get("codigo") == code:
                return int(item["id"])
        return None
