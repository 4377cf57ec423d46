"""The backfill against the daily Bling budget: may it start, how many Bling days it needs.

The backfill spends what polls spend (`spending("backfill")`): at most the budget minus the
reserve for live writes. A call past that is refused before it is sent (BudgetReservedForWrites),
the run stops at its checkpoint and the next run, on the next Bling day, resumes from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from infra.bling.budget import DailyBudgetGuard
from infra.errors import BudgetReservedForWrites
from infra.quota import bling_day, days_needed


@dataclass(frozen=True)
class BudgetPlan:
    calls: int  # Bling calls the writes are expected to take (about one per written record)
    left_today: int  # what the backfill may still spend today
    per_day: int  # what it may spend on a whole Bling day
    days: int
    finishes_on: date  # the Bling day the last write is expected on

    def line(self) -> str:
        need = f"budget: {self.calls} Bling calls for the writes, {self.left_today} left today"
        if self.days == 1:
            return f"{need}: fits today"
        return (
            f"{need} and {self.per_day} a Bling day: {self.days} days, done on {self.finishes_on} "
            "(it stops at the budget, leaving the reserve; `auvo-bling backfill` resumes it the next day)"
        )


def left_for_backfill(guard: DailyBudgetGuard) -> int:
    view = guard.view()
    return max(0, guard.budget.limit_for("backfill") - view.used)


def require_budget(guard: DailyBudgetGuard) -> int:
    """What the backfill may spend today; refuses to start when that is nothing."""
    left = left_for_backfill(guard)
    if left <= 0:
        view = guard.view()
        raise BudgetReservedForWrites(
            f"daily quota: {view.used} of {view.budget} Bling calls spent today, only the reserve for "
            f"live writes ({view.reserve}) is left: run the backfill again after midnight Brasília"
        )
    return left


def plan_days(guard: DailyBudgetGuard, calls: int) -> BudgetPlan:
    left = left_for_backfill(guard)
    per_day = guard.budget.limit_for("backfill")
    days = days_needed(calls, left, per_day)
    return BudgetPlan(calls, left, per_day, days, bling_day(guard.clock()) + timedelta(days=days - 1))
