"""The store: product mappings (Auvo item -> Bling produto), the person's and the matching rule's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select, tuple_

from infra.store.base import StoreBase, utcnow
from infra.store.tables import id_map, product_mappings

MANUAL = "manual"  # a person's mapping: wins over every rule


@dataclass(frozen=True)
class ProductMapping:
    kind: str
    auvo_id: str
    bling_id: str
    codigo: str
    source: str
    updated_at: datetime

    @property
    def manual(self) -> bool:
        return self.source == MANUAL


# (kind, Auvo id) -> (the person's or the rule's mapping, the id map's Bling id)
KnownProducts = dict[tuple[str, str], tuple[ProductMapping | None, str | None]]


class ProductMappings(StoreBase):
    def product_mapping(self, tenant: str, kind: str, auvo_id: str) -> ProductMapping | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(product_mappings).where(
                    product_mappings.c.tenant == tenant,
                    product_mappings.c.kind == kind,
                    product_mappings.c.auvo_id == auvo_id,
                )
            ).first()
        return _mapping(row) if row is not None else None

    def known_products(self, tenant: str, keys: list[tuple[str, str]]) -> KnownProducts:
        """For each (kind, Auvo id): its product mapping and its id map link, all in one read
        transaction (a pedido's lines, instead of two round trips per line)."""
        with self.engine.connect() as conn:
            return read_known_products(conn, tenant, keys)

    def product_mappings(self, tenant: str, kind: str | None = None) -> list[ProductMapping]:
        cond = [product_mappings.c.tenant == tenant]
        if kind is not None:
            cond.append(product_mappings.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(product_mappings)
                .where(*cond)
                .order_by(product_mappings.c.kind, product_mappings.c.auvo_id)
            ).all()
        return [_mapping(r) for r in rows]

    def mapped_by_hand(self, tenant: str, kind: str, bling_id: str) -> list[str]:
        """The Auvo items a person mapped to this produto (the catalogue Bling -> Auvo asks it first)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(product_mappings.c.auvo_id).where(
                    product_mappings.c.tenant == tenant,
                    product_mappings.c.kind == kind,
                    product_mappings.c.bling_id == bling_id,
                    product_mappings.c.source == MANUAL,
                )
            ).all()
        return sorted(r[0] for r in rows)

    def record_product_mapping(
        self, conn: Connection, tenant: str, kind: str, auvo_id: str, bling_id: str, codigo: str, source: str
    ) -> None:
        """Insert or replace the row of one Auvo item (inside the caller's transaction)."""
        self._upsert(
            conn,
            product_mappings,
            {
                "tenant": tenant,
                "kind": kind,
                "auvo_id": auvo_id,
                "bling_id": bling_id,
                "codigo": codigo,
                "source": source,
                "updated_at": utcnow(),
            },
            ["tenant", "kind", "auvo_id"],
        )

    def remove_product_mapping(self, conn: Connection, tenant: str, kind: str, auvo_id: str) -> bool:
        gone = conn.execute(
            delete(product_mappings).where(
                product_mappings.c.tenant == tenant,
                product_mappings.c.kind == kind,
                product_mappings.c.auvo_id == auvo_id,
            )
        )
        return bool(gone.rowcount)


def _mapping(row: object) -> ProductMapping:
    return ProductMapping(
        row.kind,
        row.auvo_id,
        row.bling_id,
        row.codigo,
        row.source,
        row.updated_at,  # type: ignore[attr-defined]
    )


def read_known_products(conn: Connection, tenant: str, keys: list[tuple[str, str]]) -> KnownProducts:
    """`ProductMappings.known_products` on the caller's connection (the state read of a pedido's
    event brings them along in its own transaction)."""
    out: KnownProducts = {k: (None, None) for k in keys}
    if not keys:
        return out
    mapped = conn.execute(
        select(product_mappings).where(
            product_mappings.c.tenant == tenant,
            tuple_(product_mappings.c.kind, product_mappings.c.auvo_id).in_(keys),
        )
    ).all()
    linked = conn.execute(
        select(id_map.c.entity, id_map.c.auvo_id, id_map.c.bling_id).where(
            id_map.c.tenant == tenant, tuple_(id_map.c.entity, id_map.c.auvo_id).in_(keys)
        )
    ).all()
    for row in mapped:
        out[(row.kind, row.auvo_id)] = (_mapping(row), None)
    for row in linked:
        key = (row.entity, row.auvo_id)
        out[key] = (out[key][0], row.bling_id)
    return out
