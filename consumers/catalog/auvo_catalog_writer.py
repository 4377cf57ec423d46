"""bling.product.changed -> the Auvo product or service of that produto, created or patched.

The one writer of Auvo products and services from Bling (`record` "auvo.catalog_item", locked per
produto id). Its order, so a repeat costs no Auvo request and nothing is created twice:

1. the fingerprint of what we last wrote for this produto equals the event's: nothing to do (a
   webhook and a poll pass that saw the same state, or a stock that went back and forth already
   written in its final state);
2. a person's mapping (`auvo-bling products map`) naming this produto wins, as it does for the
   task flow; else the id map: the Auvo record linked to the produto, whichever flow linked it
   (this writer, or the task flow's catalogue, item 1, that created or matched the produto for an
   Auvo item: that Auvo item is then updated, never duplicated). Read it and patch what differs;
3. a product without a link: Auvo's list filtered by `externalId` = the produto id finds one we
   created whose link commit was lost; then the company's own Auvo product with the produto's
   `codigo` as its `code` (the key item 1's rule matches the other way), if it is not linked to
   another produto: one is linked and patched, several are held (`AmbiguousMatch`) for a person;
   then create, with the create-in-doubt wait of every writer. Services carry no code nor
   externalId in Auvo: only the id map links them.

Loop-free: no flow reads Auvo products or services as changes, and the task flow's catalogue uses
an existing Bling produto as it is (never writes its price back), so a price we write to Auvo is
never echoed to Bling; and what we write is fingerprinted, so our own next observation of the
produto is step 1.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from consumers.base import (
    CREATED,
    UNCHANGED,
    UPDATED,
    HandlerBase,
    Outcome,
    client_timeout,
    noted_create,
    refuse_while_create_in_doubt,
)
from consumers.catalog.auvo_items import CatalogItem, auvo_record_id, catalog_item, create_body, patch_ops
from contracts.envelope import Envelope
from contracts.events import BlingProductChanged, parse_payload
from infra.bus.topology import TO_AUVO_CATALOG
from infra.errors import AmbiguousMatch, ApiRejected, NotFound
from infra.store import Store

log = structlog.get_logger(__name__)


class AuvoCatalog(Protocol):
    def get_product(self, product_id: int | str) -> dict[str, Any]: ...
    def get_service(self, service_id: str) -> dict[str, Any]: ...
    def iter_products(self, param_filter: dict[str, Any] | None = None) -> Any: ...
    def create_catalog_item(self, kind: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def patch_catalog_item(self, kind: str, item_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]: ...


class BlingProdutoToAuvoItem(HandlerBase):
    consumer = TO_AUVO_CATALOG.flow
    record = "auvo.catalog_item"

    def __init__(self, store: Store, auvo: AuvoCatalog, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.auvo = auvo

    def apply(self, envelope: Envelope) -> Outcome:
        produto = parse_payload(envelope, BlingProductChanged).produto
        item = catalog_item(produto)
        tenant = envelope.tenant
        fp = item.fingerprint()
        if self.store.fingerprint(tenant, "bling", item.kind, item.bling_id) == fp:
            return Outcome(UNCHANGED)
        mapped = self._mapped(tenant, item)
        auvo_id = mapped or self.store.auvo_id_for(tenant, item.kind, item.bling_id)
        current = self._current(tenant, item, auvo_id) if auvo_id else None
        if mapped and current is None:
            raise NotFound(
                f"Auvo {item.kind} {mapped}, mapped by hand to Bling produto {item.bling_id}, is gone",
                hint="map the produto to another Auvo item (or `products unmap` it), then replay",
            )
        if current is None and item.kind == "product":
            current = self._ours_unlinked(item) or self._same_code(tenant, item, produto.codigo or "")
        if current is None:
            return self._create(tenant, item)
        auvo_id = auvo_record_id(item.kind, current)
        ops = patch_ops(item, current)
        if ops:
            self.auvo.patch_catalog_item(item.kind, auvo_id, ops)
            log.info(
                "auvo catalogue item updated",
                event_id=envelope.event_id,
                kind=item.kind,
                bling_id=item.bling_id,
                auvo_id=auvo_id,
                fields=[op["path"] for op in ops],
            )
        # a person's mapping is kept in its own table; the id map is not made to say it too
        return self._synced(UPDATED if ops else UNCHANGED, item, auvo_id, linked=not mapped)

    def _mapped(self, tenant: str, item: CatalogItem) -> str | None:
        mapped = self.store.mapped_by_hand(tenant, item.kind, item.bling_id)
        if len(mapped) > 1:
            raise AmbiguousMatch(
                f"Bling produto {item.bling_id} is mapped by hand to {len(mapped)} Auvo {item.kind}s "
                f"[{', '.join(mapped)}]; none was written",
                hint="keep one mapping for the produto (`products unmap` the others), then replay",
            )
        return mapped[0] if mapped else None

    def _current(self, tenant: str, item: CatalogItem, auvo_id: str) -> dict[str, Any] | None:
        try:
            if item.kind == "product":
                return self.auvo.get_product(auvo_id)
            return self.auvo.get_service(auvo_id)
        except NotFound:  # deleted in Auvo: linked again to what we create now
            self.store.forget_link(tenant, item.kind, auvo_id=auvo_id)
            return None

    def _ours_unlinked(self, item: CatalogItem) -> dict[str, Any] | None:
        """A product carrying the produto's id as `externalId` (services have no such field)."""
        for record in self.auvo.iter_products({"externalId": item.bling_id}):
            if str(record.get("externalId") or "") == item.bling_id:
                return record
        return None

    def _same_code(self, tenant: str, item: CatalogItem, codigo: str) -> dict[str, Any] | None:
        """The company's Auvo product coded as the produto (Auvo's list filter `id` is the code)."""
        codigo = codigo.strip()
        if not codigo:
            return None
        try:
            listed = list(self.auvo.iter_products({"id": codigo}))
        except ApiRejected:  # a code Auvo's filter does not take (it documents a number)
            return None
        coded = {
            auvo_record_id("product", r): r for r in listed if str(r.get("code") or "").strip() == codigo
        }
        free = {
            auvo_id: r
            for auvo_id, r in coded.items()
            if self.store.bling_id_for(tenant, "product", auvo_id) in (None, item.bling_id)
        }
        if len(free) > 1:
            raise AmbiguousMatch(
                f"Bling produto {item.bling_id} (codigo {codigo}) matches {len(free)} Auvo products "
                f"[{', '.join(sorted(free))}] by code; none was linked or created",
                hint="give each Auvo product its own code (or remove the duplicate), then replay",
            )
        return next(iter(free.values()), None)

    def _create(self, tenant: str, item: CatalogItem) -> Outcome:
        refuse_while_create_in_doubt(
            self.store.intent_noted_at(tenant, self.writes, item.bling_id),
            client_timeout(self.auvo),
            f"the Auvo {item.kind} of Bling produto {item.bling_id}",
        )
        body = create_body(item)
        record = noted_create(
            self.store,
            tenant,
            self.writes,
            item.bling_id,
            lambda: self.auvo.create_catalog_item(item.kind, body),
        )
        return self._synced(CREATED, item, auvo_record_id(item.kind, record))

    @staticmethod
    def _synced(result: str, item: CatalogItem, auvo_id: str, *, linked: bool = True) -> Outcome:
        return Outcome(
            result,
            link=(item.kind, auvo_id, item.bling_id) if linked else None,
            fingerprints=[("bling", item.kind, item.bling_id, item.fingerprint())],
        )
