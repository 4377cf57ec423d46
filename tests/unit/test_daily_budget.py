"""The daily Bling budget: the Bling day, counting across processes, the reserve, the daily-limit
answer told apart from the per-second one, the projection, and the pause that lifts itself."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from infra.bling.budget import DailyBudgetGuard
from infra.bling.client import BlingClient
from infra.bling.quota_watch import QuotaWatch
from infra.errors import BudgetReservedForWrites, DailyBudgetSpent, DailyQuotaExhausted, RateLimited
from infra.quota import (
    BRASILIA,
    DailyBudget,
    bling_day,
    budget_view,
    days_needed,
    is_daily_limit,
    quota_pause_step,
    spending,
)
from infra.ratelimit import SharedThrottle
from infra.store import Store
from infra.tenant_gate import TenantGate
from simulators.bling import BlingState, create_bling_app

CLIENT_ID, SECRET, REDIRECT = "cid", "secret-0123456789", "http://127.0.0.1:1/cb"


class WallClock:
    """An aware UTC clock moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 's.sqlite3'}")


# --- the Bling day ---------------------------------------------------------------------------------


def test_the_bling_day_turns_at_midnight_brasilia_not_utc() -> None:
    assert bling_day(datetime(2026, 12, 2, 2, 59, 59, tzinfo=UTC)) == date(2026, 12, 1)
    assert bling_day(datetime(2026, 12, 2, 3, 0, 0, tzinfo=UTC)) == date(2026, 12, 2)
    assert bling_day(datetime(2026, 12, 2, 0, 0, tzinfo=BRASILIA)) == date(2026, 12, 2)
    with pytest.raises(ValueError):
        bling_day(datetime(2026, 12, 2))


def test_budget_share_and_reserve() -> None:
    budget = DailyBudget(quota=120_000, share=0.25, reserve_share=0.2)
    assert (budget.budget, budget.reserve) == (30_000, 6_000)
    assert budget.limit_for("live") == 30_000
    assert budget.limit_for("poll") == budget.limit_for("backfill") == 24_000


def test_projection_at_the_current_pace() -> None:
    budget = DailyBudget(quota=1000, share=1.0, reserve_share=0.1)
    noon = datetime(2026, 12, 2, 12, 0, tzinfo=BRASILIA)
    view = budget_view("acme", 300, budget, noon)
    assert (view.used, view.budget, view.remaining, view.reserve) == (300, 1000, 700, 100)
    assert view.projected == 600 and not view.exhausted
    # a minute after midnight the pace is read over 15 minutes, not extrapolated from one
    early = budget_view("acme", 10, budget, datetime(2026, 12, 2, 0, 1, tzinfo=BRASILIA))
    assert early.projected == 10 * 96
    assert budget_view("acme", 1000, budget, noon).exhausted
    assert "300 of 1000" in view.line() and "projected 600" in view.line()


def test_days_needed_across_bling_days() -> None:
    assert days_needed(100, remaining_today=500, per_day=1000) == 1
    assert days_needed(1500, remaining_today=500, per_day=1000) == 2
    assert days_needed(1501, remaining_today=500, per_day=1000) == 3
    assert days_needed(1500, remaining_today=0, per_day=1000) == 3


# --- counting, in the slot's own transaction -------------------------------------------------------


def test_calls_are_counted_per_tenant_and_bling_day_across_throttles(store: Store) -> None:
    clock = WallClock(datetime(2026, 12, 2, 2, 59, 58, tzinfo=UTC))  # 23:59:58 in Brasília
    budget = DailyBudget(quota=1000, share=1.0, reserve_share=0.0)
    guard = DailyBudgetGuard(store, "acme", budget, clock=clock)
    one = SharedThrottle(store, "bling:acme", per_second=1000, daily=guard)
    other = SharedThrottle(store, "bling:acme", per_second=1000, daily=guard)  # another process
    beta = SharedThrottle(
        store, "bling:beta", per_second=1000, daily=DailyBudgetGuard(store, "beta", budget, clock=clock)
    )
    threads = [threading.Thread(target=t) for t in (one, other, one, other, beta)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.daily_calls("acme", "2026-12-01") == 4
    assert store.daily_calls("beta", "2026-12-01") == 1
    clock.now += timedelta(seconds=3)  # midnight in Brasília: a new day, a new count
    one()
    assert store.daily_calls("acme", "2026-12-02") == 1
    assert guard.view().used == 1


def test_polls_stop_at_the_reserve_and_live_calls_at_the_budget(store: Store) -> None:
    clock = WallClock(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    guard = DailyBudgetGuard(store, "acme", DailyBudget(quota=10, share=1.0, reserve_share=0.3), clock=clock)
    throttle = SharedThrottle(store, "bling:acme", per_second=1000, daily=guard)
    with spending("poll"):
        for _ in range(7):
            assert guard.may_spend()
            throttle()
        assert not guard.may_spend() and guard.may_spend("live")
        with pytest.raises(BudgetReservedForWrites, match="7 of the tenant's 10"):
            throttle()
    with spending("backfill"), pytest.raises(BudgetReservedForWrites):
        throttle()
    for _ in range(3):  # the reserve is the live writes'
        throttle()
    with pytest.raises(DailyBudgetSpent, match="daily quota: 10 of the tenant's 10"):
        throttle()
    # refused calls were not counted (and took no rate-limit slot)
    assert store.daily_calls("acme", "2026-12-02") == 10


# --- Bling's daily-limit answer ---------------------------------------------------------------------


def test_daily_limit_is_told_apart_by_the_description() -> None:
    daily = {"type": "TOO_MANY_REQUESTS", "message": "Limite", "description": "O limite diário foi atingido."}
    per_second = {
        "type": "TOO_MANY_REQUESTS",
        "message": "Limite",
        "description": "3 requisições por segundo",
    }
    assert is_daily_limit(429, daily)
    assert not is_daily_limit(429, per_second)
    assert not is_daily_limit(400, daily)


class Tokens:
    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refreshed_after_rejection(self, rejected: str) -> str:
        return self.token


def test_the_simulators_daily_answer_and_per_second_answer_map_to_different_errors() -> None:
    day = [datetime(2026, 12, 2, 23, 0)]  # the simulator's naive Brasília clock
    state = BlingState(clock=lambda: day[0], rate_limit_per_second=1000, daily_limit=2)
    state.register_app(CLIENT_ID, SECRET, REDIRECT)
    token = state.grant_tokens(CLIENT_ID)["access_token"]
    with TestClient(create_bling_app(state)) as http_client:
        transport = _Through(http_client)
        client = BlingClient("http://testserver/Api/v3", Tokens(token), transport=transport)
        client.contacts_page(1)
        client.contacts_page(1)
        with pytest.raises(DailyQuotaExhausted) as caught:
            client.contacts_page(1)
        assert caught.value.http_status == 429 and caught.value.api_error_type == "TOO_MANY_REQUESTS"
        assert "daily quota" in caught.value.message
        day[0] += timedelta(hours=1, minutes=1)  # midnight in Brasília: the count starts again
        assert client.contacts_page(1) == []
        state.daily_limit, state.rate_limit_per_second = 1000, 1
        with pytest.raises(RateLimited) as second:
            for _ in range(5):
                client.contacts_page(1)
        assert not isinstance(second.value, DailyQuotaExhausted)


class _Through(httpx.BaseTransport):
    """Sends httpx requests to a Starlette TestClient."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        r = self.client.request(request.method, str(request.url), headers=dict(request.headers))
        return httpx.Response(r.status_code, headers=r.headers, content=r.content, request=request)


# --- the pause that lifts itself ---------------------------------------------------------------------


def test_pause_steps() -> None:
    d = date(2026, 12, 2)
    nxt = d + timedelta(days=1)
    for cause in ("DailyQuotaExhausted", "DailyBudgetSpent"):
        assert quota_pause_step(cause, d, nxt, used=0, budget=10, probe_due=False) == "resume"
    assert quota_pause_step("DailyQuotaExhausted", d, d, used=3, budget=10, probe_due=True) == "probe"
    assert quota_pause_step("DailyQuotaExhausted", d, d, used=3, budget=10, probe_due=False) == "wait"
    assert quota_pause_step("DailyBudgetSpent", d, d, used=10, budget=10, probe_due=True) == "wait"
    assert quota_pause_step("DailyBudgetSpent", d, d, used=10, budget=20, probe_due=True) == "resume"


def test_quota_watch_probes_once_per_interval_across_processes_and_resumes(store: Store) -> None:
    clock = WallClock(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    guard = DailyBudgetGuard(store, "acme", DailyBudget(quota=100, share=1.0), clock=clock)
    answers: list[Exception | None] = [DailyQuotaExhausted("daily quota: still"), None]

    def probe() -> None:
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    gate = TenantGate(store, "acme", ttl_seconds=0)
    gate.pause(DailyQuotaExhausted("daily quota: Bling answered its daily limit"))
    store.pause_tenant("beta", "AuvoApiDeactivated", "deactivated", "")
    watches = [QuotaWatch(store, gate, guard, probe, probe_seconds=0.5) for _ in range(2)]
    assert [w.step() for w in watches] == ["probe-failed", "wait"]  # one probe for both processes
    assert not gate.is_open()
    time.sleep(0.6)
    assert watches[1].step() == "resumed"
    assert gate.is_open()
    # a pause of another cause is never lifted here
    other = QuotaWatch(store, TenantGate(store, "beta"), guard, probe, probe_seconds=0.5)
    assert other.step() == "idle" and store.tenant_pause("beta") is not None


def test_quota_watch_resumes_when_the_bling_day_turns(store: Store) -> None:
    clock = WallClock(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))
    guard = DailyBudgetGuard(store, "acme", DailyBudget(quota=100, share=1.0), clock=clock)
    gate = TenantGate(store, "acme", ttl_seconds=0)
    gate.pause(DailyBudgetSpent("daily quota: 100 of 100"))
    watch = QuotaWatch(
        store, gate, guard, lambda: pytest.fail("no probe for our own budget"), probe_seconds=1
    )
    throttle = SharedThrottle(store, "bling:acme", per_second=10_000, daily=guard)
    for _ in range(100):
        throttle()
    assert watch.step() == "wait"
    clock.now = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # midnight in Brasília
    assert watch.step() == "resumed" and gate.is_open()


def test_a_create_the_budget_refused_is_not_left_in_doubt(store: Store) -> None:
    """The request never left: the next attempt must not wait out the late-create window."""
    from consumers.base import noted_create

    def refused() -> None:
        raise DailyBudgetSpent("daily quota: 10 of 10")

    with pytest.raises(DailyBudgetSpent):
        noted_create(store, "acme", "bling.contato", "42", refused)
    assert store.intent_noted_at("acme", "bling.contato", "42") is None

    def unanswered() -> None:
        from infra.errors import ApiUnavailable

        raise ApiUnavailable("timed out")  # no answer: the create may still land

    with pytest.raises(Exception, match="timed out"):
        noted_create(store, "acme", "bling.contato", "43", unanswered)
    assert store.intent_noted_at("acme", "bling.contato", "43") is not None


def test_the_budget_gauges_and_readiness_of_a_quota_pause(store: Store) -> None:
    from prometheus_client import REGISTRY

    from infra.health import pause_reasons

    clock = WallClock(datetime(2026, 12, 2, 15, 0, tzinfo=UTC))  # noon in Brasília
    guard = DailyBudgetGuard(store, "gauged", DailyBudget(quota=100, share=1.0), clock=clock)
    throttle = SharedThrottle(store, "bling:gauged", per_second=10_000, daily=guard)
    for _ in range(7):
        throttle()
    gate = TenantGate(store, "gauged", ttl_seconds=0)
    QuotaWatch(store, gate, guard, lambda: None, probe_seconds=60).observe()
    sample = REGISTRY.get_sample_value
    assert sample("auvo_bling_bling_calls_today", {"tenant": "gauged"}) == 7
    assert sample("auvo_bling_bling_daily_budget", {"tenant": "gauged"}) == 100
    assert sample("auvo_bling_bling_daily_budget_remaining", {"tenant": "gauged"}) == 93
    assert sample("auvo_bling_bling_calls_projected", {"tenant": "gauged"}) == 14
    gate.pause(DailyQuotaExhausted("daily quota: Bling answered its daily limit"))
    [reason] = pause_reasons(gate)
    assert "waits for the daily quota" in reason and "resumes by itself" in reason
