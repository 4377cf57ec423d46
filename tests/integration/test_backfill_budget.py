"""The backfill against the daily Bling budget: it says how many days it needs, stops at the budget
leaving the reserve for live writes, and the next Bling day's run resumes and finishes, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.backfill.progress import NoProgress
from auvo_bling.backfill.run import Backfill
from auvo_bling.wiring import App
from infra.errors import BudgetReservedForWrites
from tests.integration.test_backfill import World, markers
from tests.support import Simulators, build_settings

pytestmark = pytest.mark.integration


class WallClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Notes(NoProgress):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def run(app: App, progress: Any) -> Any:
    return Backfill(
        app.store,
        app.auvo,
        app.bling,
        tenant=app.tenant,
        direction=app.direction,
        progress=progress,
        budget=app.budget,
        backoff_seconds=0.05,
    ).run()


def test_backfill_stops_at_the_budget_and_resumes_the_next_bling_day(pg_url: str, sims: Simulators) -> None:
    world = World(sims)
    customers = [world.auvo_only() for _ in range(60)]
    # 60 calls a day for the integration, 20 of them kept for live writes: the backfill gets 40
    bling = {**sims.settings_overrides()["bling"], "daily_quota": 60, "daily_budget_share": 1.0}
    bling["daily_write_reserve_share"] = 1 / 3
    settings = build_settings(
        "memory://", pg_url, sims, customers={"direction": "auvo_to_bling"}, bling=bling
    )
    clock = WallClock(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))  # noon in Brasília
    app = App(settings, clock=clock)
    try:
        authorize_headless(app)
        first = Notes()
        with pytest.raises(BudgetReservedForWrites, match="backfill call refused"):
            run(app, first)
        day1 = app.store.daily_calls(app.tenant, "2026-12-02")
        assert day1 == 40  # stopped exactly at the budget minus the reserve: 20 left for live writes
        assert app.budget.view().remaining == 20
        eta = [n for n in first.notes if "60 Bling calls" in n and "2 days, done on 2026-12-03" in n]
        assert eta, first.notes
        made = len(sims.bling.contacts)
        assert made == 39  # one call for the (empty) contatos list, then one per create

        # the same day, a new run refuses to start (it would spend the reserve)
        with pytest.raises(BudgetReservedForWrites, match="after midnight"):
            run(app, Notes())
        assert app.store.daily_calls(app.tenant, "2026-12-02") == 40

        clock.now += timedelta(days=1)  # the next Bling day
        second = Notes()
        summary = run(app, second)
        assert any("resuming" in n for n in second.notes), second.notes
        assert summary.created_bling + made == 60 and not summary.failed
        assert len(sims.bling.contacts) == 60
        assert all(n == 1 for n in markers(sims).values()) and len(markers(sims)) == 60
        links = {p.auvo_id for p in app.store.id_pairs(app.tenant, "customer")}
        assert links == set(customers)
        assert 0 < app.store.daily_calls(app.tenant, "2026-12-03") <= 40
    finally:
        app.close()
