"""The store's engine and plumbing: the connection, transactions and dialect-aware upserts."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`) and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class StoreBase:
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


def _sqlite_immediate_transactions(engine: Engine) -> None:
    """Take SQLite's write lock at BEGIN so concurrent writers queue instead of deadlocking."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        # Switching a new database to WAL needs its exclusive lock and SQLite does not run the busy
        # handler for it: processes opening a fresh file at once get "database is locked" here.
        for attempt in range(100):
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)
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
