"""The Bling produto of every Auvo product and service a sales document sells: matched, else created or held.

One answer per Auvo item, however many pedidos and propostas sell it and however many consumers run.
Which produto is decided by the one matching rule (`consumers.sales.product_matching`); this module
does its I/O: it reads the person's mapping and the id map, asks Bling for the produtos that could be
the item (`codigos[]` with our marker and the item's code, `idsProdutos[]` with its externalId,
`gtins[]` with its GTIN, whose answers are confirmed by reading the produto since the list does not
carry the GTIN), and the Auvo product record when the line alone does not say (a task line carries
the code, not the externalId). Then:

- a match is linked in the id map (and its codigo and rule kept in `product_mappings`), so the next
  task finds it without a request; `products map` wins over all of it;
- nothing matches: with `catalog.unmatched = "create"` the produto is created, coded
  `AUVO-P-<id>` / `AUVO-S-<id>`, under a per-item lock, with the create-in-doubt check (a create that
  timed out is waited for, EntityBusy, and found by its marker afterwards); with `"hold"` the event
  is held (`UnmappedProduct`), and a replay after the fix links the right produto;
- ambiguous: held in both modes.

An existing Bling produto is used as it is (its price and name belong to whoever keeps the Bling
catalogue); the pedido's items carry the task's own unit values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, Literal, NoReturn, Protocol

import structlog

from consumers.base import client_timeout, noted_create, refuse_while_create_in_doubt
from consumers.customers.matching import MatchKind
from consumers.sales.mapping import LineKind, ProductRef, SaleLine, product_body
from consumers.sales.product_matching import (
    AuvoItem,
    BlingProduct,
    Candidate,
    ProductMatch,
    ProductRule,
    auvo_item,
    held,
    match_product,
)
from infra.bling.tokens import process_owner
from infra.errors import ApiRejected, EntityBusy, NotFound
from infra.store import KnownProducts, ProductMapping, Store

log = structlog.get_logger(__name__)

# the write-intent namespace of produto creates (shared by the orders and the proposals flows)
CATALOG = "catalog"
# at most this many produtos answering one GTIN are read to confirm it; more is ambiguous anyway
GTIN_READS = 3

Unmatched = Literal["create", "hold"]
SAFE_PATH_ID = re.compile(r"[\w.-]+")  # a code that can stand in a URL path as it is


class BlingProducts(Protocol):
    def iter_products(self, **filters: Any) -> Iterator[dict[str, Any]]: ...
    def get_product(self, product_id: int) -> dict[str, Any]: ...
    def create_product(self, body: dict[str, Any]) -> int: ...


class AuvoProducts(Protocol):
    def get_product(self, product_id: int | str) -> dict[str, Any]: ...


def product_reads(lines: Iterable[SaleLine]) -> tuple[tuple[str, str], ...]:
    """The (kind, Auvo id) keys `ensure_products` reads, once each (`StateReads.products`)."""
    return tuple(dict.fromkeys((ln.kind, ln.auvo_id) for ln in lines))


class BlingCatalog:
    def __init__(
        self,
        store: Store,
        bling: BlingProducts,
        *,
        auvo: AuvoProducts | None = None,
        unmatched: Unmatched = "create",
        lock_wait_seconds: float = 10.0,
    ) -> None:
        """`auvo` reads an Auvo product's externalId and GTIN; without it only the line's code is known."""
        self.store = store
        self.bling = bling
        self.auvo = auvo
        self.unmatched = unmatched
        self.lock_wait_seconds = lock_wait_seconds

    def ensure_products(
        self,
        tenant: str,
        lines: Iterable[SaleLine],
        auvo_records: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        known: KnownProducts | None = None,
    ) -> dict[tuple[LineKind, str], ProductRef]:
        """The Bling produto of every line; `auvo_records` are Auvo product records already read,
        by product id (the quote flow reads them for the names); `known`: the lines' mappings and
        links as the event's state read found them (`product_reads`), else read here."""
        lines = list(lines)
        keys = product_reads(lines)
        if known is None or any(k not in known for k in keys):
            known = self.store.known_products(tenant, list(keys))
        out: dict[tuple[LineKind, str], ProductRef] = {}
        for line in lines:
            key = (line.kind, line.auvo_id)
            if key not in out:
                ref = self._known(tenant, line, known.get(key))
                if ref is None:
                    ref = self.ensure_product(tenant, line, (auvo_records or {}).get(line.auvo_id))
                out[key] = ref
        return out

    def ensure_product(
        self, tenant: str, line: SaleLine, auvo_record: Mapping[str, Any] | None = None
    ) -> ProductRef:
        known = self._known(tenant, line)
        if known is not None:
            return known
        name = f"{tenant}:catalog:{line.kind}:{line.auvo_id}"
        with self.store.lock(
            name, process_owner(), ttl_seconds=60.0, wait_seconds=self.lock_wait_seconds
        ) as got:
            if not got:
                raise EntityBusy(f"Bling produto for Auvo {line.kind} {line.auvo_id} is being created")
            known = self._known(tenant, line)
            if known is not None:
                return known
            item = auvo_item(line, auvo_record if auvo_record is not None else self._auvo_record(line))
            found = self._search(item)
            taken = {
                p.id: owner
                for p in found
                if (owner := self.store.auvo_id_for(tenant, item.kind, p.id)) is not None
            }
            match = match_product(item, found=found, taken=taken)
            if match.kind is MatchKind.AMBIGUOUS or (
                match.kind is MatchKind.NONE and self.unmatched == "hold"
            ):
                self._hold(tenant, item, match)
            if match.kind is MatchKind.UNIQUE:
                return self._link(tenant, item, match)
            return self._create(tenant, line)

    def _known(
        self, tenant: str, line: SaleLine, read: tuple[ProductMapping | None, str | None] | None = None
    ) -> ProductRef | None:
        """The person's mapping, else the id map (with the codigo the match recorded); `read`: both
        as `Store.known_products` already read them."""
        row = read[0] if read is not None else self.store.product_mapping(tenant, line.kind, line.auvo_id)
        mapped = Candidate(ProductRule.MAPPING, row.bling_id, row.codigo) if row and row.manual else None
        if read is not None:
            linked = read[1] if mapped is None else None
        else:
            linked = self.store.bling_id_for(tenant, line.kind, line.auvo_id) if mapped is None else None
        match = match_product(auvo_item(line), mapped=mapped, linked=linked)
        if match.kind is not MatchKind.UNIQUE or match.bling_id is None:
            return None
        codigo = match.codigo
        if match.rule is ProductRule.ID_MAP:
            codigo = row.codigo if row is not None and row.bling_id == match.bling_id else line.code
        return ProductRef(int(match.bling_id), codigo)

    def _auvo_record(self, line: SaleLine) -> Mapping[str, Any] | None:
        """The Auvo product of a line, for its externalId and GTIN. The blueprint names the path id
        the product's `code` (the simulator takes the GUID too), so the code is tried first; a
        record of another product (two sharing a code) is not taken."""
        if line.kind != "product" or self.auvo is None:
            return None
        code = line.sku if SAFE_PATH_ID.fullmatch(line.sku) else ""
        for ident in dict.fromkeys(i for i in (code, line.auvo_id) if i):
            try:
                record = self.auvo.get_product(ident)
            except (NotFound, ApiRejected):
                continue  # deleted from Auvo since, or not an id Auvo takes: the line's code still counts
            if str(record.get("productId") or "") == line.auvo_id:
                return record
        return None

    def _search(self, item: AuvoItem) -> list[BlingProduct]:
        """The produtos Bling lists for the item's marker, code, externalId and GTIN."""
        codes = [item.marker] + ([item.code] if item.code else [])
        found = [BlingProduct.of(p) for p in self.bling.iter_products(**{"codigos[]": codes})]
        if item.external_bling_id and item.external_bling_id not in {p.id for p in found}:
            found += [
                BlingProduct.of(p)
                for p in self.bling.iter_products(**{"idsProdutos[]": [item.external_bling_id]})
            ]
        if item.gtin:
            listed = list(islice(self.bling.iter_products(**{"gtins[]": [item.gtin]}), GTIN_READS + 1))
            if len(listed) > GTIN_READS:  # trust the filter: more than a few is ambiguous as it is
                found += [BlingProduct(str(p["id"]), str(p.get("codigo") or ""), item.gtin) for p in listed]
            else:
                for p in listed:
                    try:
                        found.append(BlingProduct.of(self.bling.get_product(int(p["id"]))))
                    except NotFound:
                        continue
        return found

    def _link(self, tenant: str, item: AuvoItem, match: ProductMatch) -> ProductRef:
        assert match.bling_id is not None and match.rule is not None
        with self.store.transaction() as conn:
            self.store.link(conn, tenant, item.kind, item.auvo_id, match.bling_id)
            if match.rule is ProductRule.MARKER:
                self.store.clear_intent(conn, tenant, CATALOG, _intent(item.kind, item.auvo_id))
                self.store.bump(conn, tenant, f"catalog.{item.kind}.linked")
            else:
                self.store.record_product_mapping(
                    conn, tenant, item.kind, item.auvo_id, match.bling_id, match.codigo, match.rule.value
                )
                self.store.bump(conn, tenant, f"catalog.{item.kind}.matched_{match.rule.value}")
        log.info(
            "catalog item matched",
            tenant=tenant,
            kind=item.kind,
            auvo_id=item.auvo_id,
            bling_id=match.bling_id,
            rule=match.rule.value,
        )
        return ProductRef(int(match.bling_id), match.codigo)

    def _create(self, tenant: str, line: SaleLine) -> ProductRef:
        intent = _intent(line.kind, line.auvo_id)
        refuse_while_create_in_doubt(
            self.store.intent_noted_at(tenant, CATALOG, intent),
            client_timeout(self.bling),
            f"the Bling produto of Auvo {line.kind} {line.auvo_id}",
        )
        body = product_body(line)
        bling_id = noted_create(self.store, tenant, CATALOG, intent, lambda: self.bling.create_product(body))
        with self.store.transaction() as conn:
            self.store.link(conn, tenant, line.kind, line.auvo_id, str(bling_id))
            self.store.clear_intent(conn, tenant, CATALOG, intent)
            self.store.bump(conn, tenant, f"catalog.{line.kind}.created")
        return ProductRef(int(bling_id), line.code)

    def _hold(self, tenant: str, item: AuvoItem, match: ProductMatch) -> NoReturn:
        error = held(item, match)
        with self.store.transaction() as conn:
            self.store.bump(conn, tenant, f"catalog.{item.kind}.held")
        log.warning(
            "catalog item held for a person",
            tenant=tenant,
            kind=item.kind,
            auvo_id=item.auvo_id,
            match=match.kind.value,
            candidates=[c.describe() for c in match.candidates],
        )
        raise error


def _intent(kind: str, auvo_id: str) -> str:
    return f"{kind}:{auvo_id}"
