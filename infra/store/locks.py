"""The store: named locks with owner and expiry (per entity, token refresh, producer leader)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, select, text, update

from infra.store.base import StoreBase
from infra.store.tables import locks


@dataclass
class LockHold:
    """What `Locks.lock` yields: true when the lock was taken (callers test it as a bool).

    `released` is set by whoever released it inside their own transaction (`release_with`), so the
    block's exit does not spend another transaction releasing it again.
    """

    name: str
    owner: str
    got: bool
    released: bool = False

    def __bool__(self) -> bool:
        return self.got


class Locks(StoreBase):
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

    def renew_leases(self, names: list[str], owner: str, ttl_seconds: float) -> set[str]:
        """Renew, in one statement, the leases of `names` that `owner` still holds; returns those
        renewed (one another owner took after they expired is not). A producer holding 64 poll
        shards renewed them with 64 transactions every 10 s before."""
        if not names:
            return set()
        with self.transaction() as conn:
            rows = conn.execute(
                update(locks)
                .where(and_(locks.c.name.in_(names), locks.c.owner == owner))
                .values(expires_at=time.time() + ttl_seconds)
                .returning(locks.c.name)
            ).all()
        return {row.name for row in rows}

    def lease_holders(self, prefix: str) -> dict[str, str]:
        """The unexpired leases whose names start with `prefix`: {name: owner} (one round trip;
        the poll shards and the producers' presence are read this way)."""
        now = time.time()
        with self.transaction() as conn:
            rows = conn.execute(
                select(locks.c.name, locks.c.owner).where(
                    and_(locks.c.name.startswith(prefix, autoescape=True), locks.c.expires_at > now)
                )
            ).all()
        return {row.name: row.owner for row in rows if owner_alive(row.owner)}

    def unlock(self, name: str, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute(delete(locks).where(and_(locks.c.name == name, locks.c.owner == owner)))

    def release_with(self, conn: Connection, hold: LockHold) -> None:
        """Release a SQLite lease inside the caller's (last) transaction: one round trip fewer per
        handled event. The caller sets `hold.released` once that transaction committed; until then
        the block's exit still releases it. PostgreSQL's advisory lock lives on its own connection
        and is released at the block's exit at no extra transaction: nothing to do here."""
        if self.is_sqlite and hold.got:
            conn.execute(delete(locks).where(and_(locks.c.name == hold.name, locks.c.owner == hold.owner)))

    @contextlib.contextmanager
    def lock(
        self, name: str, owner: str, ttl_seconds: float = 30.0, wait_seconds: float = 10.0
    ) -> Iterator[LockHold]:
        """Hold a named lock for a block; yields False if it could not be taken in time.

        On PostgreSQL this is a session advisory lock: if the holder is killed, its connection
        closes and the lock is free at once. On SQLite (one machine) it is a lease whose holder
        is also considered gone when its process no longer exists.
        """
        if not self.is_sqlite:
            with self._advisory_lock(name, wait_seconds) as got:
                yield LockHold(name, owner, got)
            return
        deadline = time.monotonic() + wait_seconds
        got = self.try_lock(name, owner, ttl_seconds)
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
            got = self.try_lock(name, owner, ttl_seconds)
        hold = LockHold(name, owner, got)
        try:
            yield hold
        finally:
            if got and not hold.released:
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
