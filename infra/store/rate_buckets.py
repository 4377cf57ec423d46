"""The store: the shared rate limiter (GCRA buckets) every process and tenant of a deployment uses."""

from __future__ import annotations

import time

from sqlalchemy import select, update

from infra.store.base import StoreBase
from infra.store.daily_budget import DailyBudgets, DailyCharge
from infra.store.egress_windows import EgressWindows, WindowClaim, WindowsFull
from infra.store.tables import rate_buckets


class BucketBooked(Exception):
    """The bucket's next slot is `wait` seconds away, more than the caller would wait for it."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the bucket's next slot is {wait:.2f} s away")
        self.wait = wait


class RateBuckets(DailyBudgets, EgressWindows, StoreBase):
    # --- shared rate limiter (GCRA) -------------------------------------------------------------

    def reserve_slot(
        self,
        bucket: str,
        interval: float,
        burst: int,
        daily: DailyCharge | None = None,
        windows: WindowClaim | None = None,
        give_up_after: float | None = None,
    ) -> float:
        """Reserve the next request slot of a bucket; returns how long the caller must wait.

        With `daily`, the call is also counted against the tenant's Bling day in the same
        transaction (DailyLimitReached, and no slot, when its limit was reached). With `windows`,
        the IP-wide windows are taken in it too, at the second the slot will be used (WindowsFull,
        and neither slot nor charge, when one has no room then): one transaction per Bling request
        for every limit it is under. With `give_up_after`, a slot further than that in the future
        is not taken (BucketBooked, and neither slot nor charge): the caller sets its work aside.

        Generic cell-rate algorithm: one row per bucket holds the theoretical arrival time. Every
        process reserves in a short transaction, so N processes together never exceed the rate,
        and waiting callers are served in the order they reserved.
        """
        with self.transaction() as conn:
            if daily is not None:
                self._charge_daily(conn, daily)
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
            slot_wait = max(0.0, new_tat - now - burst * interval)
            if give_up_after is not None and slot_wait > give_up_after:
                raise BucketBooked(slot_wait)  # rolls the transaction back: no slot, no charge
            if windows is not None:
                at = windows.now + slot_wait
                wait = self.take_window_slots_in(conn, windows.lock_name, windows.checks, at)
                if wait > 0:
                    raise WindowsFull(wait)  # rolls the transaction back: no slot, no charge
            conn.execute(
                update(rate_buckets).where(rate_buckets.c.name == bucket).values(theoretical_arrival=new_tat)
            )
        return slot_wait

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
