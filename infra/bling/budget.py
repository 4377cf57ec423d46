"""The daily Bling budget at the point of each call: what the shared throttle charges and refuses.

`SharedThrottle` asks `charge()` for the call it is about to reserve a slot for; the store counts
it in that same transaction (infra/store/daily_budget.py) or refuses it, and `refusal()` turns the
refusal into the error the caller understands:

- a live call (a consumer's write or the lookups it needs) over the budget: `DailyBudgetSpent`,
  which pauses the tenant until the Bling day turns;
- a poll or backfill call that would eat into the reserve for live writes:
  `BudgetReservedForWrites`, which `run_poll_loop` logs and retries on its next tick and the
  backfill stops at (its checkpoint resumes it the next day). This is the pollers' one hook: they
  need not ask "may I spend a read now?", their read is refused before it is sent; a poller that
  wants to decide before a pass (an adaptive interval) can ask `may_spend()` (one read).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from infra.errors import BudgetReservedForWrites, DailyBudgetSpent, IntegrationError
from infra.quota import BudgetView, DailyBudget, Spending, bling_day, budget_view, current_spending
from infra.store import DailyCharge, DailyLimitReached, Store


def utc_now() -> datetime:
    return datetime.now(UTC)


class DailyBudgetGuard:
    def __init__(
        self,
        store: Store,
        tenant: str,
        budget: DailyBudget,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.budget = budget
        self.clock = clock

    def today(self) -> str:
        return bling_day(self.clock()).isoformat()

    def charge(self) -> DailyCharge:
        """The charge for one call of the current thread's kind (infra.quota.spending)."""
        return DailyCharge(self.tenant, self.today(), self.budget.limit_for(current_spending()))

    def refusal(self, refused: DailyLimitReached) -> IntegrationError:
        kind = current_spending()
        numbers = (
            f"{refused.used} of the tenant's {self.budget.budget} Bling calls for {refused.charge.day} spent "
            f"({self.budget.reserve} kept for live changes; account quota {self.budget.quota})"
        )
        if kind == "live":
            return DailyBudgetSpent(f"daily quota: {numbers}")
        return BudgetReservedForWrites(f"daily quota: {kind} call refused, {numbers}")

    def may_spend(self, kind: Spending | None = None) -> bool:
        """Whether one more call of `kind` (default: the current thread's) would be let through now:
        one read of the day's count, for a poller that wants to decide before it starts a pass."""
        used = self.store.daily_calls(self.tenant, self.today())
        return used < self.budget.limit_for(kind or current_spending())

    def view(self, used: int | None = None) -> BudgetView:
        """Today's figures; `used` when the day's count was read already (one read for every
        tenant: `Store.daily_calls_of`)."""
        now = self.clock()
        if used is None:
            used = self.store.daily_calls(self.tenant, bling_day(now).isoformat())
        return budget_view(self.tenant, used, self.budget, now)
