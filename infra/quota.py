"""Bling's daily quota as numbers: the Bling day, this integration's budget, its reserve, the pace.

Pure: no store, no HTTP. The store counts calls (infra/store/daily_budget.py), the throttle asks
`DailyBudget.limit_for` before each call (infra/bling/budget.py), and `status`, `check`, the metrics
and the console show `BudgetView`, so every surface shows the same figures.

The account's 120,000 requests a day are shared with every other app of the company (e-commerce
connectors, marketplace hubs): this integration spends only its `share` of them, and inside that
share keeps a `reserve` that polls and backfills may not touch, so a live change still lands after
a busy day of polling or a backfill that ran to the budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal

# Brazil has had no daylight saving time since 2019: a fixed offset needs no tzdata.
BRASILIA = timezone(timedelta(hours=-3), "America/Sao_Paulo")
DAY_SECONDS = 86_400.0

Spending = Literal["live", "poll", "backfill"]
# What the calls of the current thread are for. Consumers (live changes) are the default; the poll
# threads and the backfill say otherwise with `spending(...)`, so the throttle needs no argument.
_SPENDING: ContextVar[Spending] = ContextVar("bling_spending", default="live")


def current_spending() -> Spending:
    return _SPENDING.get()


@contextlib.contextmanager
def spending(kind: Spending) -> Iterator[None]:
    """Tag the Bling calls made inside the block (and only in this thread) as `kind`."""
    token = _SPENDING.set(kind)
    try:
        yield
    finally:
        _SPENDING.reset(token)


def bling_day(now: datetime) -> date:
    """The Bling day `now` falls in: Bling's day is assumed to turn at midnight Brasília."""
    if now.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required")
    return now.astimezone(BRASILIA).date()


def day_start(day: date) -> datetime:
    """When `day` began, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=BRASILIA).astimezone(UTC)


def next_day_start(now: datetime) -> datetime:
    return day_start(bling_day(now) + timedelta(days=1))


@dataclass(frozen=True)
class DailyBudget:
    """`quota` per Bling day for the account; this integration may spend `share` of it, of which
    `reserve_share` is kept for live changes (polls and backfills stop short of it)."""

    quota: int = 120_000
    share: float = 0.25
    reserve_share: float = 0.2

    @property
    def budget(self) -> int:
        return int(self.quota * self.share)

    @property
    def reserve(self) -> int:
        return int(self.budget * self.reserve_share)

    def limit_for(self, kind: Spending) -> int:
        """How many calls of the day may have been made before one more call of `kind` is refused."""
        return self.budget if kind == "live" else self.budget - self.reserve

    @classmethod
    def from_settings(cls, bling: Any) -> DailyBudget:
        return cls(bling.daily_quota, bling.daily_budget_share, bling.daily_write_reserve_share)


@dataclass(frozen=True)
class BudgetView:
    """One tenant's day, as `status`, `check`, the metrics and the console show it."""

    tenant: str
    day: date
    used: int
    budget: int
    reserve: int
    remaining: int
    # calls by the end of the Bling day if the pace since midnight holds
    projected: int
    exhausted: bool

    def line(self) -> str:
        text = (
            f"Bling calls today ({self.day.isoformat()}): {self.used} of {self.budget} "
            f"({self.remaining} left, {self.reserve} kept for live changes), "
            f"projected {self.projected} at the current pace"
        )
        return text + (" - DAILY QUOTA SPENT" if self.exhausted else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "used": self.used,
            "budget": self.budget,
            "reserve": self.reserve,
            "remaining": self.remaining,
            "projected": self.projected,
            "exhausted": self.exhausted,
        }


def budget_view(tenant: str, used: int, budget: DailyBudget, now: datetime) -> BudgetView:
    day = bling_day(now)
    elapsed = (now - day_start(day)).total_seconds()
    # the first minutes of a day say little about its pace: project from at least 15 minutes
    projected = round(used * DAY_SECONDS / max(elapsed, 900.0)) if used else 0
    return BudgetView(
        tenant=tenant,
        day=day,
        used=used,
        budget=budget.budget,
        reserve=budget.reserve,
        remaining=max(0, budget.budget - used),
        projected=max(projected, used),
        exhausted=used >= budget.budget,
    )


def days_needed(calls: int, remaining_today: int, per_day: int) -> int:
    """Bling days a job of `calls` takes when it may spend `remaining_today` now and `per_day` on
    each following day (1 = it fits today)."""
    if calls <= remaining_today:
        return 1
    if per_day <= 0:
        raise ValueError("a budget of 0 calls a day never finishes")
    left = calls - max(0, remaining_today)
    return 1 + -(-left // per_day)


_DAILY_WORDS = ("diário", "diario", "daily", "por dia")


def is_daily_limit(status: int, error: dict[str, Any]) -> bool:
    """Whether Bling's answer is its daily limit rather than the per-second one.

    Both are 429 TOO_MANY_REQUESTS; public connectors tell them apart by the `description` (or
    message) mentioning the daily limit ("O limite diário de requisições foi atingido").
    """
    if status != 429:
        return False
    text = " ".join(str(error.get(k) or "") for k in ("message", "description")).lower()
    return any(word in text for word in _DAILY_WORDS)


QuotaStep = Literal["resume", "probe", "wait"]


def quota_pause_step(
    cause: str, paused_day: date, today: date, *, used: int, budget: int, probe_due: bool
) -> QuotaStep:
    """What a tenant paused for the daily quota does now.

    The Bling day turned: resume. Our own share spent (DailyBudgetSpent): resume only if the budget
    now allows more (the setting was raised), since a probe would only spend what is left. Bling
    answered its limit (DailyQuotaExhausted): its day may turn at another hour than ours, so one
    probe every few minutes asks.
    """
    if today > paused_day:
        return "resume"
    if cause == "DailyBudgetSpent":
        return "resume" if used < budget else "wait"
    return "probe" if probe_due else "wait"
