"""The store: the id map (which Auvo record is which Bling record), the customer index that finds a
counterpart where the API has no filter for it, and the sales documents a Bling user deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select

from infra.errors import IdMapConflict
from infra.store.base import StoreBase, utcnow
from infra.store.tables import customer_index, deleted_in_bling, id_map


@dataclass(frozen=True)
class IdPair:
    auvo_id: str
    bling_id: str


class Links(StoreBase):
    # --- id map -------------------------------------------------------------------------------

    def bling_id_for(self, tenant: str, entity: str, auvo_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(id_map.c.bling_id).where(
                    id_map.c.tenant == tenant, id_map.c.entity == entity, id_map.c.auvo_id == auvo_id
                )
            ).scalar()

    def auvo_id_for(self, tenant: str, entity: str, bling_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(id_map.c.auvo_id).where(
                    id_map.c.tenant == tenant, id_map.c.entity == entity, id_map.c.bling_id == bling_id
                )
            ).scalar()

    def link(self, conn: Connection, tenant: str, entity: str, auvo_id: str, bling_id: str) -> None:
        """Record that two records are the same entity; refuses to re-point an existing link."""
        existing = conn.execute(
            select(id_map.c.auvo_id, id_map.c.bling_id).where(
                id_map.c.tenant == tenant,
                id_map.c.entity == entity,
                (id_map.c.auvo_id == auvo_id) | (id_map.c.bling_id == bling_id),
            )
        ).all()
        for row in existing:
            if row.auvo_id == auvo_id and row.bling_id == bling_id:
                return
            raise IdMapConflict(
                f"id map conflict for {entity}: auvo {auvo_id} <-> bling {bling_id} "
                f"but {row.auvo_id} <-> {row.bling_id} already linked"
            )
        conn.execute(
            id_map.insert().values(
                tenant=tenant, entity=entity, auvo_id=auvo_id, bling_id=bling_id, updated_at=utcnow()
            )
        )

    def forget_link(
        self, tenant: str, entity: str, *, auvo_id: str | None = None, bling_id: str | None = None
    ) -> None:
        """Drop a link whose record was deleted on one side, so it can be re-created and re-linked."""
        cond = [id_map.c.tenant == tenant, id_map.c.entity == entity]
        if auvo_id is not None:
            cond.append(id_map.c.auvo_id == auvo_id)
        if bling_id is not None:
            cond.append(id_map.c.bling_id == bling_id)
        with self.transaction() as conn:
            conn.execute(delete(id_map).where(*cond))

    def id_pairs(self, tenant: str, entity: str) -> list[IdPair]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(id_map.c.auvo_id, id_map.c.bling_id).where(
                    id_map.c.tenant == tenant, id_map.c.entity == entity
                )
            ).all()
        return [IdPair(r.auvo_id, r.bling_id) for r in rows]

    # --- customer index (find a counterpart where the API has no filter for it) ---------------

    def index_customer(self, tenant: str, system: str, entity_id: str, keys: dict[str, str]) -> None:
        """Remember a record's document and e-mail (Auvo's API cannot be searched by them)."""
        with self.transaction() as conn:
            conn.execute(
                delete(customer_index).where(
                    customer_index.c.tenant == tenant,
                    customer_index.c.system == system,
                    customer_index.c.entity_id == entity_id,
                )
            )
            for kind, key in keys.items():
                if key:
                    conn.execute(
                        self._insert(customer_index)
                        .values(tenant=tenant, system=system, kind=kind, key=key, entity_id=entity_id)
                        .on_conflict_do_nothing()
                    )

    def indexed_customers(self, tenant: str, system: str, kind: str, key: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(customer_index.c.entity_id).where(
                    customer_index.c.tenant == tenant,
                    customer_index.c.system == system,
                    customer_index.c.kind == kind,
                    customer_index.c.key == key,
                )
            ).all()
        return sorted(r.entity_id for r in rows)

    # --- documents deleted in Bling -------------------------------------------------------------

    def note_deleted_in_bling(
        self, tenant: str, entity: str, auvo_id: str, bling_id: str, *, via: str
    ) -> None:
        """Forget the link and remember the deletion, in one transaction (idempotent)."""
        with self.transaction() as conn:
            conn.execute(
                delete(id_map).where(
                    id_map.c.tenant == tenant, id_map.c.entity == entity, id_map.c.auvo_id == auvo_id
                )
            )
            self._upsert(
                conn,
                deleted_in_bling,
                {
                    "tenant": tenant,
                    "entity": entity,
                    "auvo_id": auvo_id,
                    "bling_id": bling_id,
                    "noticed_via": via,
                    "deleted_at": utcnow(),
                },
                ["tenant", "entity", "auvo_id"],
            )

    def is_deleted_in_bling(self, tenant: str, entity: str, auvo_id: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(deleted_in_bling.c.bling_id).where(
                    deleted_in_bling.c.tenant == tenant,
                    deleted_in_bling.c.entity == entity,
                    deleted_in_bling.c.auvo_id == auvo_id,
                )
            ).first()
        return row is not None

    def allow_recreate(self, tenant: str, entity: str, auvo_id: str) -> bool:
        """The operator's override: the next change of the job may create the document again."""
        with self.transaction() as conn:
            result = conn.execute(
                delete(deleted_in_bling).where(
                    deleted_in_bling.c.tenant == tenant,
                    deleted_in_bling.c.entity == entity,
                    deleted_in_bling.c.auvo_id == auvo_id,
                )
            )
        return bool(result.rowcount)

    def deletions_in_bling(self, tenant: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(deleted_in_bling).where(deleted_in_bling.c.tenant == tenant)).all()
        return [dict(r._mapping) for r in rows]
