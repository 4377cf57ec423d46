"""The store: processed events, applied versions, echo fingerprints, write intents and the counters:
what makes a redelivery, a stale event or an echo a no-op, and a lost create answer findable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from infra.store.base import StoreBase, aware, utcnow
from infra.store.product_mappings import KnownProducts, read_known_products
from infra.store.tables import (
    applied_versions,
    counters,
    deleted_in_bling,
    fingerprints,
    id_map,
    processed_events,
    write_intents,
)


@dataclass(frozen=True)
class StateReads:
    """More facts a handler's state read brings along, in the same read under the entity lock.

    A handler whose event touches rows other than its own entity's (a pedido: its deletion mark,
    link and fingerprint, its contato's link, its produtos') names them here, so the event spends
    one round trip on all of them instead of one each (issue 20: at most 4 per event).
    """

    links: tuple[tuple[str, str], ...] = ()  # (entity, Auvo id): the id map's Bling id
    fingerprints: tuple[tuple[str, str, str], ...] = ()  # (system, entity, entity id)
    # (fingerprint entity, link entity, Auvo id): the Bling-side fingerprint of the id linked to it
    linked_fingerprints: tuple[tuple[str, str, str], ...] = ()
    intents: tuple[tuple[str, str], ...] = ()  # (namespace, intent id): when it was noted
    deletions: tuple[tuple[str, str], ...] = ()  # (entity, Auvo id): deleted in Bling?
    products: tuple[tuple[str, str], ...] = ()  # (kind, Auvo id): as `Store.known_products`

    def merge(self, other: StateReads) -> StateReads:
        return StateReads(
            self.links + other.links,
            self.fingerprints + other.fingerprints,
            self.linked_fingerprints + other.linked_fingerprints,
            self.intents + other.intents,
            self.deletions + other.deletions,
            self.products + other.products,
        )


@dataclass(frozen=True)
class StateFacts:
    """What the store answered for `StateReads`, keyed as asked (a key asked is always present)."""

    links: dict[tuple[str, str], str | None] = field(default_factory=dict)
    fingerprints: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    linked_fingerprints: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    intents: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    deletions: dict[tuple[str, str], bool] = field(default_factory=dict)
    products: KnownProducts = field(default_factory=dict)


@dataclass(frozen=True)
class EntityState:
    """What the store knows of one entity when a handler starts on an event, read at once.

    Read under the entity lock: only its holder (one writer per record) changes these rows until
    the lock is released, so a handler may trust them for the rest of the event instead of asking
    the store again. `bling_id` / `fingerprints` cover only the `link_entity` asked for.
    """

    processed: bool
    applied_version: str | None
    intent_noted_at: datetime | None
    link_entity: str = ""
    bling_id: str | None = None
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)  # (system, id) -> fp
    also: StateFacts | None = None  # what `StateReads` asked for, if anything


class Idempotency(StoreBase):
    # --- processed events and versions -------------------------------------------------------

    def is_processed(self, tenant: str, consumer: str, event_id: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(processed_events.c.event_id).where(
                    processed_events.c.tenant == tenant,
                    processed_events.c.consumer == consumer,
                    processed_events.c.event_id == event_id,
                )
            ).first()
        return row is not None

    def entity_state(
        self,
        tenant: str,
        consumer: str,
        event_id: str,
        entity_id: str,
        *,
        writes: str,
        link_entity: str = "",
        also: StateReads | None = None,
    ) -> EntityState:
        """One statement for everything a handler checks before deciding: processed event, applied
        version, an unanswered create (write intent under `writes`), and with `link_entity` the id
        map link of the Auvo id `entity_id` and both sides' fingerprints (scalar subqueries of one
        SELECT: a round trip, whatever the number of facts). `also`: more facts in the same SELECT,
        and the produtos' mappings and links as two more statements of the same transaction."""
        facts = [
            _fact(processed_events.c.event_id, tenant=tenant, consumer=consumer, event_id=event_id).label(
                "processed"
            ),
            _fact(applied_versions.c.version, tenant=tenant, consumer=consumer, entity_id=entity_id).label(
                "applied"
            ),
            _fact(write_intents.c.created_at, tenant=tenant, consumer=writes, entity_id=entity_id).label(
                "noted"
            ),
        ]
        if link_entity:
            linked = _fact(id_map.c.bling_id, tenant=tenant, entity=link_entity, auvo_id=entity_id)
            facts += [
                linked.label("bling_id"),
                _fact(
                    fingerprints.c.fingerprint,
                    tenant=tenant,
                    system="auvo",
                    entity=link_entity,
                    entity_id=entity_id,
                ).label("auvo_fp"),
                _fact(
                    fingerprints.c.fingerprint,
                    tenant=tenant,
                    system="bling",
                    entity=link_entity,
                    entity_id=linked,
                ).label("bling_fp"),
            ]
        extra = _extra_facts(tenant, also) if also is not None else []
        facts += [column.label(f"also_{i}") for i, column in enumerate(extra)]
        with self.engine.connect() as conn:
            row = conn.execute(select(*facts)).one()
            products = (
                read_known_products(conn, tenant, list(also.products)) if also and also.products else {}
            )
        noted = row.noted
        fps: dict[tuple[str, str], str] = {}
        bling_id = None
        if link_entity:
            bling_id = row.bling_id
            if row.auvo_fp is not None:
                fps[("auvo", entity_id)] = row.auvo_fp
            if row.bling_fp is not None and bling_id is not None:
                fps[("bling", bling_id)] = row.bling_fp
        return EntityState(
            row.processed is not None,
            row.applied,
            None if noted is None else aware(noted),
            link_entity,
            bling_id,
            fps,
            _state_facts(also, list(row)[len(facts) - len(extra) :], products) if also is not None else None,
        )

    def mark_processed(
        self, conn: Connection, tenant: str, consumer: str, event_id: str, outcome: str
    ) -> bool:
        """Record the event as done inside the caller's transaction; False if it already was."""
        stmt = (
            self._insert(processed_events)
            .values(
                tenant=tenant, consumer=consumer, event_id=event_id, outcome=outcome, processed_at=utcnow()
            )
            .on_conflict_do_nothing()
            .returning(processed_events.c.event_id)
        )
        return conn.execute(stmt).first() is not None

    def applied_version(self, tenant: str, consumer: str, entity_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(applied_versions.c.version).where(
                    applied_versions.c.tenant == tenant,
                    applied_versions.c.consumer == consumer,
                    applied_versions.c.entity_id == entity_id,
                )
            ).scalar()

    def set_applied_version(
        self, conn: Connection, tenant: str, consumer: str, entity_id: str, version: str
    ) -> None:
        """Raise the applied version of an entity; never lowers it (events arrive out of order)."""
        stmt = self._insert(applied_versions).values(
            tenant=tenant, consumer=consumer, entity_id=entity_id, version=version
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant", "consumer", "entity_id"],
            set_={"version": version},
            where=applied_versions.c.version < version,
        )
        conn.execute(stmt)

    # --- fingerprints (echo suppression) -----------------------------------------------------

    def fingerprint(self, tenant: str, system: str, entity: str, entity_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(fingerprints.c.fingerprint).where(
                    fingerprints.c.tenant == tenant,
                    fingerprints.c.system == system,
                    fingerprints.c.entity == entity,
                    fingerprints.c.entity_id == entity_id,
                )
            ).scalar()

    def set_fingerprint(
        self, conn: Connection, tenant: str, system: str, entity: str, entity_id: str, fingerprint: str
    ) -> None:
        self._upsert(
            conn,
            fingerprints,
            {
                "tenant": tenant,
                "system": system,
                "entity": entity,
                "entity_id": entity_id,
                "fingerprint": fingerprint,
                "written_at": utcnow(),
            },
            ["tenant", "system", "entity", "entity_id"],
        )

    # --- write intents (was a create attempted and maybe not recorded?) -----------------------

    def note_intent(self, tenant: str, consumer: str, entity_id: str) -> bool:
        """Record that a create is about to be sent; returns True if one was already noted.

        A noted intent that was never cleared means a previous attempt may have created the
        record and died before recording it, so the handler must look for it before creating.
        """
        with self.transaction() as conn:
            inserted = conn.execute(
                self._insert(write_intents)
                .values(tenant=tenant, consumer=consumer, entity_id=entity_id, created_at=utcnow())
                .on_conflict_do_nothing()
                .returning(write_intents.c.entity_id)
            ).first()
        return inserted is None

    def intent_noted_at(self, tenant: str, consumer: str, entity_id: str) -> datetime | None:
        """When a create of this entity was noted and not cleared since (None: no such create)."""
        with self.engine.connect() as conn:
            at = conn.execute(
                select(write_intents.c.created_at).where(
                    write_intents.c.tenant == tenant,
                    write_intents.c.consumer == consumer,
                    write_intents.c.entity_id == entity_id,
                )
            ).scalar()
        return None if at is None else aware(at)

    def clear_intent(self, conn: Connection, tenant: str, consumer: str, entity_id: str) -> None:
        conn.execute(
            delete(write_intents).where(
                write_intents.c.tenant == tenant,
                write_intents.c.consumer == consumer,
                write_intents.c.entity_id == entity_id,
            )
        )

    # --- counters (for the summary and status) --------------------------------------------------

    def bump(self, conn: Connection, tenant: str, name: str, by: int = 1) -> None:
        stmt = self._insert(counters).values(tenant=tenant, name=name, value=by)
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant", "name"], set_={"value": counters.c.value + by}
        )
        conn.execute(stmt)

    def counters(self, tenant: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(counters.c.name, counters.c.value).where(counters.c.tenant == tenant)
            ).all()
        return {r.name: r.value for r in rows}

    def last_processed(self, tenant: str) -> dict[str, dict[str, datetime]]:
        """Per consumer, per outcome: when it last happened (read-only; for `status`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    processed_events.c.consumer,
                    processed_events.c.outcome,
                    func.max(processed_events.c.processed_at).label("last"),
                )
                .where(processed_events.c.tenant == tenant)
                .group_by(processed_events.c.consumer, processed_events.c.outcome)
            ).all()
        out: dict[str, dict[str, datetime]] = {}
        for row in rows:
            last = aware(row.last)
            out.setdefault(row.consumer, {})[row.outcome] = last
        return out

    def count_processed(self, tenant: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(processed_events).where(processed_events.c.tenant == tenant)
            ).scalar_one()


def _extra_facts(tenant: str, also: StateReads) -> list[Any]:
    """The scalar subqueries of `also`, in the order `_state_facts` reads their answers back."""
    out: list[Any] = []
    for entity, auvo_id in also.links:
        out.append(_fact(id_map.c.bling_id, tenant=tenant, entity=entity, auvo_id=auvo_id))
    for system, entity, entity_id in also.fingerprints:
        out.append(
            _fact(
                fingerprints.c.fingerprint, tenant=tenant, system=system, entity=entity, entity_id=entity_id
            )
        )
    for fp_entity, link_entity, auvo_id in also.linked_fingerprints:
        linked = _fact(id_map.c.bling_id, tenant=tenant, entity=link_entity, auvo_id=auvo_id)
        out.append(
            _fact(
                fingerprints.c.fingerprint, tenant=tenant, system="bling", entity=fp_entity, entity_id=linked
            )
        )
    for namespace, intent_id in also.intents:
        out.append(_fact(write_intents.c.created_at, tenant=tenant, consumer=namespace, entity_id=intent_id))
    for entity, auvo_id in also.deletions:
        out.append(_fact(deleted_in_bling.c.bling_id, tenant=tenant, entity=entity, auvo_id=auvo_id))
    return out


def _state_facts(also: StateReads, values: list[Any], products: KnownProducts) -> StateFacts:
    """`_extra_facts`' answers back under the keys asked."""
    answers = iter(values)
    facts = StateFacts(products=products)
    for key in also.links:
        facts.links[key] = next(answers)
    for fp_key in also.fingerprints:
        facts.fingerprints[fp_key] = next(answers)
    for linked_key in also.linked_fingerprints:
        facts.linked_fingerprints[linked_key] = next(answers)
    for intent_key in also.intents:
        noted = next(answers)
        facts.intents[intent_key] = None if noted is None else aware(noted)
    for deletion_key in also.deletions:
        facts.deletions[deletion_key] = next(answers) is not None
    return facts


def _fact(column: Any, **keys: Any) -> Any:
    """`column` of the row of its table with these key values, as a scalar subquery (None: no row)."""
    table = column.table
    return select(column).where(*(table.c[name] == value for name, value in keys.items())).scalar_subquery()
