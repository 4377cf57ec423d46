"""The store: Bling calls per tenant per Bling day, counted by every process of a deployment.

A call is counted in the transaction that already reserves its rate-limit slot (RateBuckets
.reserve_slot), not in one of its own: the count costs no extra round trip per call, and a call
refused for the budget takes no slot either (the whole transaction rolls back).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from infra.store.base import StoreBase
from infra.store.tables import bling_daily_calls


@dataclass(frozen=True)
class DailyCharge:
    """Count one call of `tenant` on Bling day `day` (YYYY-MM-DD), unless `limit` calls were made."""

    tenant: str
    day: str
    limit: int


class DailyLimitReached(Exception):
    """The charge's limit was reached: the call was neither counted nor given a slot."""

    def __init__(self, charge: DailyCharge, used: int) -> None:
        super().__init__(f"{charge.tenant}: {used} Bling calls on {charge.day}, limit {charge.limit}")
        self.charge = charge
        self.used = used


class DailyBudgets(StoreBase):
    def _charge_daily(self, conn: Connection, charge: DailyCharge) -> int:
        """Count one call inside the caller's transaction; returns the day's calls so far.

        One statement (an upsert that increments only below the limit), because every Bling call
        pays for it: the read-lock-update version cost three round trips inside the transaction.
        """
        table = bling_daily_calls
        counted = None
        if charge.limit > 0:
            stmt = self._insert(table).values(tenant=charge.tenant, day=charge.day, calls=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=["tenant", "day"],
                set_={"calls": table.c.calls + 1},
                where=table.c.calls < charge.limit,
            ).returning(table.c.calls)
            counted = conn.execute(stmt).scalar()
        if counted is None:
            used = conn.execute(
                select(table.c.calls).where(table.c.tenant == charge.tenant, table.c.day == charge.day)
            ).scalar()
            raise DailyLimitReached(charge, int(used or 0))
        return int(counted)

    def daily_calls_of(self, day: str) -> dict[str, int]:
        """Every tenant's Bling calls of one Bling day, in one read (the heartbeat, the gauges)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(bling_daily_calls.c.tenant, bling_daily_calls.c.calls).where(
                    bling_daily_calls.c.day == day
                )
            ).all()
        return {row.tenant: int(row.calls) for row in rows}

    def daily_calls(self, tenant: str, day: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(bling_daily_calls.c.calls).where(
                    bling_daily_calls.c.tenant == tenant, bling_daily_calls.c.day == day
                )
            ).scalar()
        return int(value or 0)
