"""The integration's memory, on SQLAlchemy Core: SQLite by default, PostgreSQL in production.

Everything that must survive a crash and be shared by every process lives here: the id map
(which Auvo record is which Bling record), processed event ids (so a redelivery is a no-op),
applied versions (so a stale event is dropped), poll cursors, encrypted OAuth tokens, named
locks (per-entity, token refresh, producer leader), rate-limit buckets and echo fingerprints.
Every key starts with the tenant so accounts can never mix.

SQLite is run with `BEGIN IMMEDIATE` and WAL so several processes on one machine serialise
their writes instead of failing with "database is locked"; PostgreSQL uses row locks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from infra.errors import IdMapConflict

metadata = MetaData()

id_map = Table(
    "id_map",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("auvo_id", String(64), nullable=False),
    Column("bling_id", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant", "entity", "auvo_id", name="uq_id_map_auvo"),
    UniqueConstraint("tenant", "entity", "bling_id", name="uq_id_map_bling"),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("outcome", String(32), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    # pruning deletes by age (infra/store_retention.py; migration 0002)
    Index("ix_processed_events_processed_at", "processed_at"),
)

applied_versions = Table(
    "applied_versions",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("consumer", String(64), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("version", String(64), nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("provider", String(32), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("expires_at", Float, nullable=False),
)

rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("theoretical_arrival", Float, nullable=False),
)

fingerprints = Table(
    "fingerprints",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("system", String(16), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False),
)

customer_index = Table(
    "customer_index",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("system", String(16), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "document" or "email"
    Column("key", String(200), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
)

write_intents = Table(
    "write_intents",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("consumer", String(64), primary_key=True),
    Column("entity_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", Integer, nullable=False),
)

# When each change stream (e.g. "auvo.customers", "bling.orders") was last heard from, per channel
# ("webhook" or "poll"), so `status` shows whether pushes still arrive and the safety net still runs.
heard = Table(
    "heard",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Sales documents a Bling user deleted: the link is gone, and this row stops a later change of the
# Auvo job from silently creating the document again (README: "Webhooks", deletion policy).
deleted_in_bling = Table(
    "deleted_in_bling",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("auvo_id", String(64), primary_key=True),
    Column("bling_id", String(64), nullable=False),
    Column("noticed_via", String(16), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
)

# A tenant whose account broke (API deactivated, authorization revoked): its consumers and pollers
# stand still until `tenants resume` deletes the row. One row per tenant; the first cause wins.
tenant_pauses = Table(
    "tenant_pauses",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("error_class", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("hint", Text, nullable=False),
    Column("paused_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class TenantPause:
    tenant: str
    error_class: str
    reason: str
    hint: str
    paused_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


@dataclass(frozen=True)
class IdPair:
    auvo_id: str
    bling_id: str


class Store:
    """All state the processes share. Methods are small transactions; `transaction()` groups them."""

    def __init__(
        self,
        database_url: str,
        *,
        create: bool = True,
        upgrade: bool = False,
        pool_size: int = 5,
        max_overflow: int = 5,
        pool_timeout: float = 30.0,
    ) -> None:
        """`create`: bring an empty database to the current schema, and refuse (ConfigurationError)
        one at an older schema unless `upgrade` says to migrate it now (see infra/schema.py)."""
        url = normalise_database_url(database_url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            _sqlite_immediate_transactions(self.engine)
        else:
            # sized by the caller from the threads it runs (auvo_bling.tenancy.pool_size_for); a
            # checkout that waits `pool_timeout` raises sqlalchemy's TimeoutError (runner: busy)
            self.engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
            )
        if create:
            self.create_schema(upgrade=upgrade)

    # --- plumbing ----------------------------------------------------------------------------

    def create_schema(self, *, upgrade: bool = False) -> None:
        """Make sure the schema is this version's; safe to run from several processes at once.

        An empty database is migrated to the head revision (nothing to lose); a database at an
        older revision is migrated only when `upgrade` is true, else this raises the one-line
        ConfigurationError that names `auvo-bling db upgrade`. `create_all` is never used: it
        skips any table that exists, so a changed column would silently never reach the database.
        """
        from infra.schema import ensure_schema  # alembic is imported only by processes that start

        ensure_schema(self, upgrade=upgrade)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    def _insert(self, table: Table) -> Any:
        return (sqlite if self.is_sqlite else postgresql).insert(table)

    def _upsert(self, conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> None:
        stmt = self._insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={k: v for k, v in values.items() if k not in keys}
        )
        conn.execute(stmt)

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

    def mark_processed(
        self, conn: Connection, tenant: str, consumer: str, event_id: str, outcome: str
    ) -> bool:
        """Record the event as done inside the caller's transaction; False if it already was."""
        stmt = (
            self._insert(processed_events)
            .values(tenant=tenant, consumer=consumer, event_id=event_id, outcome=outcome, processed_at=_now())
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
                tenant=tenant, entity=entity, auvo_id=auvo_id, bling_id=bling_id, updated_at=_now()
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
                "written_at": _now(),
            },
            ["tenant", "system", "entity", "entity_id"],
        )

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

    # --- write intents (was a create attempted and maybe not recorded?) -----------------------

    def note_intent(self, tenant: str, consumer: str, entity_id: str) -> bool:
        """Record that a create is about to be sent; returns True if one was already noted.

        A noted intent that was never cleared means a previous attempt may have created the
        record and died before recording it, so the handler must look for it before creating.
        """
        with self.transaction() as conn:
            inserted = conn.execute(
                self._insert(write_intents)
                .values(tenant=tenant, consumer=consumer, entity_id=entity_id, created_at=_now())
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
        return None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))

    def clear_intent(self, conn: Connection, tenant: str, consumer: str, entity_id: str) -> None:
        conn.execute(
            delete(write_intents).where(
                write_intents.c.tenant == tenant,
                write_intents.c.consumer == consumer,
                write_intents.c.entity_id == entity_id,
            )
        )

    # --- cursors -------------------------------------------------------------------------------

    def cursor(self, tenant: str, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(cursors.c.value).where(cursors.c.tenant == tenant, cursors.c.name == name)
            ).scalar()

    def set_cursor(self, tenant: str, name: str, value: str) -> None:
        with self.transaction() as conn:
            self._upsert(
                conn,
                cursors,
                {"tenant": tenant, "name": name, "value": value, "updated_at": _now()},
                ["tenant", "name"],
            )

    def all_cursors(self, tenant: str) -> dict[str, tuple[str, datetime]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(cursors.c.name, cursors.c.value, cursors.c.updated_at).where(
                    cursors.c.tenant == tenant
                )
            ).all()
        return {r.name: (r.value, r.updated_at) for r in rows}

    # --- tokens --------------------------------------------------------------------------------

    def load_token(self, tenant: str, provider: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(oauth_tokens.c.ciphertext).where(
                    oauth_tokens.c.tenant == tenant, oauth_tokens.c.provider == provider
                )
            ).scalar()

    def save_token(self, tenant: str, provider: str, ciphertext: str, expires_at: datetime | None) -> None:
        with self.transaction() as conn:
            self._upsert(
                conn,
                oauth_tokens,
                {
                    "tenant": tenant,
                    "provider": provider,
                    "ciphertext": ciphertext,
                    "expires_at": expires_at,
                    "updated_at": _now(),
                },
                ["tenant", "provider"],
            )

    # --- named locks ---------------------------------------------------------------------------

    def try_lock(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take or renew a lease; an expired lease (its holder died) can be taken over."""
        now = time.time()
        with self.transaction() as conn:
            row = conn.execute(
                select(locks.c.owner, locks.c.expires_at).where(locks.c.name == name).with_for_update()
            ).first()
            if row is None:
                inserted = conn.execute(
                    self._insert(locks)
                    .values(name=name, owner=owner, expires_at=now + ttl_seconds)
                    .on_conflict_do_nothing()
                    .returning(locks.c.name)
                ).first()
                return inserted is not None
            if row.owner != owner and row.expires_at > now and owner_alive(row.owner):
                return False
            conn.execute(
                update(locks).where(locks.c.name == name).values(owner=owner, expires_at=now + ttl_seconds)
            )
            return True

    def unlock(self, name: str, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute(delete(locks).where(and_(locks.c.name == name, locks.c.owner == owner)))

    @contextlib.contextmanager
    def lock(
        self, name: str, owner: str, ttl_seconds: float = 30.0, wait_seconds: float = 10.0
    ) -> Iterator[bool]:
        """Hold a named lock for a block; yields False if it could not be taken in time.

        On PostgreSQL this is a session advisory lock: if the holder is killed, its connection
        closes and the lock is free at once. On SQLite (one machine) it is a lease whose holder
        is also considered gone when its process no longer exists.
        """
        if not self.is_sqlite:
            with self._advisory_lock(name, wait_seconds) as got:
                yield got
            return
        deadline = time.monotonic() + wait_seconds
        got = self.try_lock(name, owner, ttl_seconds)
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
            got = self.try_lock(name, owner, ttl_seconds)
        try:
            yield got
        finally:
            if got:
                self.unlock(name, owner)

    @contextlib.contextmanager
    def _advisory_lock(self, name: str, wait_seconds: float) -> Iterator[bool]:
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        conn = self.engine.connect()
        try:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            deadline = time.monotonic() + wait_seconds
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            while not got and time.monotonic() < deadline:
                time.sleep(0.05)
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        finally:
            conn.close()

    # --- shared rate limiter (GCRA) -------------------------------------------------------------

    def reserve_slot(self, bucket: str, interval: float, burst: int) -> float:
        """Reserve the next request slot of a bucket; returns how long the caller must wait.

        Generic cell-rate algorithm: one row per bucket holds the theoretical arrival time. Every
        process reserves in a short transaction, so N processes together never exceed the rate,
        and waiting callers are served in the order they reserved.
        """
        with self.transaction() as conn:
            # make sure the row exists, then lock it; only then read the clock, so a caller that
            # waited for the lock does not compute its slot from a stale time
            conn.execute(
                self._insert(rate_buckets)
                .values(name=bucket, theoretical_arrival=0.0)
                .on_conflict_do_nothing()
            )
            tat = conn.execute(
                select(rate_buckets.c.theoretical_arrival)
                .where(rate_buckets.c.name == bucket)
                .with_for_update()
            ).scalar_one()
            now = time.time()
            new_tat = max(tat, now) + interval
            conn.execute(
                update(rate_buckets).where(rate_buckets.c.name == bucket).values(theoretical_arrival=new_tat)
            )
        return max(0.0, new_tat - now - burst * interval)

    def hold_bucket(self, bucket: str, until: float) -> None:
        """No slot of the bucket before `until` (epoch seconds); later reservations queue behind it."""
        with self.transaction() as conn:
            conn.execute(
                self._insert(rate_buckets)
                .values(name=bucket, theoretical_arrival=until)
                .on_conflict_do_nothing()
            )
            conn.execute(
                update(rate_buckets)
                .where(rate_buckets.c.name == bucket, rate_buckets.c.theoretical_arrival < until)
                .values(theoretical_arrival=until)
            )

    # --- last heard from (webhook / poll), for status ---------------------------------------------

    def note_heard(self, tenant: str, stream: str, channel: str) -> None:
        with self.transaction() as conn:
            self._upsert(
                conn,
                heard,
                {"tenant": tenant, "stream": stream, "channel": channel, "at": _now()},
                ["tenant", "stream", "channel"],
            )

    def last_heard(self, tenant: str) -> dict[str, dict[str, datetime]]:
        """Per stream, per channel: when it was last heard from."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(heard.c.stream, heard.c.channel, heard.c.at).where(heard.c.tenant == tenant)
            ).all()
        out: dict[str, dict[str, datetime]] = {}
        for row in rows:
            at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
            out.setdefault(row.stream, {})[row.channel] = at
        return out

    # --- paused tenants -------------------------------------------------------------------------

    def pause_tenant(self, tenant: str, error_class: str, reason: str, hint: str) -> bool:
        """Pause `tenant`; False when it already was (the first cause is kept: it is the root one)."""
        with self.transaction() as conn:
            inserted = conn.execute(
                self._insert(tenant_pauses)
                .values(tenant=tenant, error_class=error_class, reason=reason, hint=hint, paused_at=_now())
                .on_conflict_do_nothing(index_elements=["tenant"])
                .returning(tenant_pauses.c.tenant)
            ).first()
        return inserted is not None

    def resume_tenant(self, tenant: str) -> TenantPause | None:
        """Lift the pause; returns what it was (None when the tenant was not paused)."""
        with self.transaction() as conn:
            row = conn.execute(
                delete(tenant_pauses).where(tenant_pauses.c.tenant == tenant).returning(*tenant_pauses.c)
            ).first()
        return _pause(row) if row is not None else None

    def tenant_pause(self, tenant: str) -> TenantPause | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(tenant_pauses).where(tenant_pauses.c.tenant == tenant)).first()
        return _pause(row) if row is not None else None

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
                    "deleted_at": _now(),
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
            last = row.last if row.last.tzinfo else row.last.replace(tzinfo=UTC)
            out.setdefault(row.consumer, {})[row.outcome] = last
        return out

    def count_processed(self, tenant: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(processed_events).where(processed_events.c.tenant == tenant)
            ).scalar_one()


def _pause(row: Any) -> TenantPause:
    at = row.paused_at if row.paused_at.tzinfo else row.paused_at.replace(tzinfo=UTC)
    return TenantPause(row.tenant, row.error_class, row.reason, row.hint, at)


def owner_alive(owner: str) -> bool:
    """Whether a lock owner ("host:pid:thread") may still be running; unknown hosts are assumed alive."""
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sqlite_immediate_transactions(engine: Engine) -> None:
    """Take SQLite's write lock at BEGIN so concurrent writers queue instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        for attempt in range(50):
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.1)
