"""The store: sliding-window counters shared by every process and tenant behind one egress address.

Bling blocks an IP (not an account) after more than 20 token calls in 60 s, or 600 requests or 300
errors in 10 s: a GCRA bucket (a burst plus a rate) cannot say "at most N in ANY window", a log of
every hit would be a row per request. So each window keeps one row per epoch second and a check
sums the rows of the last `window + 1` seconds: conservative by less than a second, one short
transaction per check whatever the traffic.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Row, delete, select, text

from infra.store.base import StoreBase
from infra.store.tables import egress_hits


@dataclass(frozen=True)
class WindowClaim:
    """The windows one request must have room in, for an egress group (`lock_name`), at `now`."""

    lock_name: str
    checks: Sequence[WindowCheck]
    now: float


class WindowsFull(Exception):
    """No room in a window for `wait` seconds: nothing was counted and no slot was taken."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"no room in the egress windows for {wait:.3f} s")
        self.wait = wait


@dataclass(frozen=True)
class WindowCheck:
    """At most `limit` hits of `name` in any `window_seconds`; `record` counts this caller's hit
    (False: only check, e.g. "are there too many errors to send at all")."""

    name: str
    limit: int
    window_seconds: int
    record: bool = True


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"egress:{name}".encode()).digest()[:8], "big", signed=True)


class EgressWindows(StoreBase):
    # --- sliding windows (IP-wide ceilings) -------------------------------------------------------

    def take_window_slots(self, lock_name: str, checks: Sequence[WindowCheck], now: float) -> float:
        """Count one hit in every recording window if all of them have room; returns 0.0 then.

        Otherwise nothing is counted and the answer is how many seconds until the fullest window
        has room again. `lock_name` serialises every caller of one egress group (a transaction-scoped
        advisory lock on PostgreSQL; SQLite's write lock, BEGIN IMMEDIATE, does it there), so two
        processes can never both take the last slot.
        """
        with self.transaction() as conn:
            return self.take_window_slots_in(conn, lock_name, checks, now)

    def take_window_slots_in(
        self, conn: Connection, lock_name: str, checks: Sequence[WindowCheck], now: float
    ) -> float:
        """`take_window_slots` inside the caller's transaction (the rate slot's: RateBuckets
        .reserve_slot), so a Bling request costs one transaction for all its limits. On a wait,
        nothing was counted; the caller rolls back whatever else it did."""
        second = math.floor(now)
        oldest = second - max(c.window_seconds for c in checks)
        names = sorted({c.name for c in checks})
        if not self.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key(lock_name)})
        rows = conn.execute(
            select(egress_hits.c.name, egress_hits.c.second, egress_hits.c.hits).where(
                egress_hits.c.name.in_(names), egress_hits.c.second >= oldest
            )
        ).all()
        wait = max(_wait_for_room(c, rows, second, now) for c in checks)
        if wait > 0:
            return wait
        recorded = [c.name for c in checks if c.record]
        if recorded:
            self._count(conn, recorded, second)
        self._prune(conn, names, oldest, second)
        return 0.0

    def add_window_hit(self, name: str, now: float) -> None:
        """Count a hit that is not reserved ahead (an error answer): one upsert, no lock needed."""
        with self.transaction() as conn:
            self._count(conn, [name], math.floor(now))

    def window_hits(self, name: str, window_seconds: int, now: float) -> int:
        """Hits of `name` counted in the last `window_seconds` (as take_window_slots counts them)."""
        since = math.floor(now) - window_seconds
        with self.transaction() as conn:
            rows = conn.execute(
                select(egress_hits.c.hits).where(egress_hits.c.name == name, egress_hits.c.second >= since)
            ).all()
        return sum(r.hits for r in rows)

    def _count(self, conn: Connection, names: list[str], second: int) -> None:
        stmt = self._insert(egress_hits).values([{"name": n, "second": second, "hits": 1} for n in names])
        stmt = stmt.on_conflict_do_update(
            index_elements=["name", "second"], set_={"hits": egress_hits.c.hits + 1}
        )
        conn.execute(stmt)

    def _prune(self, conn: Connection, names: list[str], oldest: int, second: int) -> None:
        """Drop rows no window can see any more, at most once a second per store (not per call)."""
        pruned = self.__dict__.setdefault("_egress_pruned_at", {})
        key = tuple(names)
        if pruned.get(key) == second:
            return
        pruned[key] = second
        conn.execute(delete(egress_hits).where(egress_hits.c.name.in_(names), egress_hits.c.second < oldest))


def _wait_for_room(check: WindowCheck, rows: Sequence[Row], second: int, now: float) -> float:
    """Seconds until `check` has room for one more hit (0.0: it has room now).

    A hit counted at second `s` is seen by every check until `floor(t) - window > s`, i.e. until
    t = s + window + 1; so drop the oldest seconds until the rest is below the limit.
    """
    since = second - check.window_seconds
    buckets = sorted((r.second, r.hits) for r in rows if r.name == check.name and r.second >= since)
    excess = sum(h for _, h in buckets) - check.limit + 1
    if excess <= 0:
        return 0.0
    for s, hits in buckets:
        excess -= hits
        if excess <= 0:
            return max(s + check.window_seconds + 1 - now, 0.001)
    return float(check.window_seconds)  # limit < 1: never room; callers validate limits >= 1
