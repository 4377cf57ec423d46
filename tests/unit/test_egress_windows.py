"""The IP-wide sliding windows (infra/store/egress_windows.py, infra/egress.py).

"At most N in ANY window" is checked over the times the windows let through, for a clock driven by
hand; on PostgreSQL two stores (two processes' pools) and their threads race for the last slots.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.egress import BlingEgress, ChainedThrottle
from infra.errors import RateLimited
from infra.http import send
from infra.settings import EgressSettings
from infra.store import Store, WindowCheck
from tests.egress_support import max_in_any_window

T0 = 1_800_000_000.0


class HandClock:
    def __init__(self, start: float = T0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'egress.sqlite3'}"


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = Store(sqlite_url)
    yield s
    s.dispose()


def test_at_most_the_limit_in_any_window_and_close_to_it_over_time(store: Store) -> None:
    """Callers arriving at random moments: never more than 15 in any 60 s, yet ~15 a minute pass."""
    check = WindowCheck("g:bling:token-calls", 15, 60)
    rng = random.Random(4)
    now, granted = T0, []
    while now < T0 + 600:
        wait = store.take_window_slots("g", [check], now)
        if wait == 0:
            granted.append(now)
            now += rng.uniform(0, 3)  # the next caller comes soon
        else:
            now += wait  # the caller sleeps as told, then tries again
    assert max_in_any_window(granted, 60) <= 15
    assert len(granted) >= 15 * 9, "the window let far fewer through than it allows"


def test_the_wait_is_until_the_oldest_second_leaves_the_window(store: Store) -> None:
    check = WindowCheck("g:w", 3, 60)
    for t in (T0 + 0.2, T0 + 5.5, T0 + 5.9):
        assert store.take_window_slots("g", [check], t) == 0
    # the hit of second T0 is seen until T0 + 61 (conservative by less than a second)
    assert store.take_window_slots("g", [check], T0 + 30) == pytest.approx(31.0)
    assert store.take_window_slots("g", [check], T0 + 60.5) == pytest.approx(0.5)
    assert store.take_window_slots("g", [check], T0 + 61) == 0
    assert store.window_hits("g:w", 60, T0 + 61) == 3  # 5.5 and 5.9 plus the new one


def test_nothing_is_counted_when_one_window_is_full(store: Store) -> None:
    tokens = WindowCheck("g:tokens", 1, 60)
    requests = WindowCheck("g:requests", 100, 10)
    assert store.take_window_slots("g", [tokens, requests], T0) == 0
    assert store.take_window_slots("g", [tokens, requests], T0 + 1) > 0
    assert store.window_hits("g:requests", 10, T0 + 1) == 1


def test_errors_are_counted_after_the_answer_and_stop_further_requests(store: Store) -> None:
    clock = HandClock()
    limits = EgressSettings(group="edge-1", bling_errors_per_10s=3)
    egress = BlingEgress(store, limits, clock=clock, sleep=clock.sleep)
    answers = iter([httpx.Response(400), httpx.Response(404), httpx.Response(200), httpx.Response(500)])
    client = httpx.Client(transport=httpx.MockTransport(lambda _: next(answers)), base_url="http://api")
    throttle = ChainedThrottle(None, egress.throttle())
    for _ in range(4):
        send(client, client.build_request("GET", "/x"), service="Bling", throttle=throttle)
    assert store.window_hits("edge-1:bling:errors", 10, clock()) == 3
    assert store.window_hits("edge-1:bling:requests", 10, clock()) == 4
    assert clock.slept == []
    egress.before_request()  # 3 errors in the window: this request waits until they age out
    assert clock.slept and clock.now >= T0 + 11
    assert store.window_hits("edge-1:bling:requests", 10, clock()) == 1


def test_a_token_call_that_would_wait_too_long_is_a_transient_refusal(store: Store) -> None:
    clock = HandClock()
    limits = EgressSettings(bling_token_calls_per_minute=2)
    egress = BlingEgress(store, limits, clock=clock, sleep=clock.sleep)
    egress.before_token_call()
    egress.before_token_call()
    with pytest.raises(RateLimited) as refused:
        egress.before_token_call(max_wait=10)
    assert refused.value.retry_after == pytest.approx(61)
    assert egress.before_token_call(max_wait=120) == pytest.approx(61)


def test_groups_do_not_share_windows(store: Store) -> None:
    clock = HandClock()
    one = BlingEgress(store, EgressSettings(group="ip-a", bling_token_calls_per_minute=1), clock=clock)
    other = BlingEgress(store, EgressSettings(group="ip-b", bling_token_calls_per_minute=1), clock=clock)
    one.before_token_call(max_wait=0)
    other.before_token_call(max_wait=0)  # another address: its own window
    with pytest.raises(RateLimited):
        one.before_token_call(max_wait=0)


def test_two_sqlite_stores_share_the_windows(sqlite_url: str, store: Store) -> None:
    second = Store(sqlite_url)  # another process's connection pool on the same file
    try:
        check = WindowCheck("g:w", 4, 60)
        results = [s.take_window_slots("g", [check], T0 + i) for i, s in enumerate([store, second] * 3)]
        assert results[:4] == [0, 0, 0, 0] and all(r > 0 for r in results[4:])
    finally:
        second.dispose()


def test_old_seconds_are_pruned(store: Store) -> None:
    check = WindowCheck("g:w", 1000, 10)
    for i in range(50):
        store.take_window_slots("g", [check], T0 + i)
    with store.transaction() as conn:
        from sqlalchemy import func, select

        from infra.store.tables import egress_hits

        rows = conn.execute(select(func.count()).select_from(egress_hits)).scalar_one()
    assert rows <= 12


# --- PostgreSQL: two stores, many threads, racing for the last slots ------------------------------


def test_postgres_two_stores_never_grant_more_than_the_limit(pg_url: str) -> None:
    """8 threads on two stores take at the same instant: exactly the limit is granted, no more."""
    stores = [Store(pg_url, pool_size=4, max_overflow=2), Store(pg_url, pool_size=4, max_overflow=2)]
    check = WindowCheck("edge:bling:token-calls", 15, 60)
    granted: list[int] = []
    guard = threading.Lock()
    start = threading.Barrier(8)

    def caller(store: Store) -> None:
        start.wait()
        for _ in range(6):
            if store.take_window_slots("edge", [check], T0 + 0.5) == 0:
                with guard:
                    granted.append(1)

    threads = [threading.Thread(target=caller, args=(stores[i % 2],)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(granted) == 15
        assert stores[0].window_hits("edge:bling:token-calls", 60, T0 + 1) == 15
        assert stores[1].take_window_slots("edge", [check], T0 + 61.0) == 0  # the window moved on
    finally:
        for s in stores:
            s.dispose()


def test_postgres_sliding_window_over_time_across_two_stores(pg_url: str) -> None:
    """Two stores alternate over 5 simulated minutes: ≤ 15 in any 60 s, and the pace is kept."""
    stores = [Store(pg_url, pool_size=2), Store(pg_url, pool_size=2)]
    check = WindowCheck("edge:bling:token-calls", 15, 60)
    rng = random.Random(9)
    now, granted = T0, []
    try:
        while now < T0 + 300:
            wait = stores[rng.randrange(2)].take_window_slots("edge", [check], now)
            if wait == 0:
                granted.append(now)
                now += rng.uniform(0, 2)
            else:
                now += wait
    finally:
        for s in stores:
            s.dispose()
    assert max_in_any_window(granted, 60) <= 15
    assert len(granted) >= 15 * 4


def test_a_code_exchange_takes_a_token_slot_and_counts_its_answer(store: Store) -> None:
    from infra.bling.oauth import exchange_code

    clock = HandClock()
    egress = BlingEgress(store, EgressSettings(group="edge"), clock=clock, sleep=clock.sleep)
    answers = iter([httpx.Response(400, json={"error": "invalid_grant"})])
    client = httpx.Client(transport=httpx.MockTransport(lambda _: next(answers)), base_url="http://api/")
    with pytest.raises(Exception, match="invalid or already used"):
        exchange_code(client, "id", "secret", "code", throttle=egress.token_throttle(max_wait=30))
    assert store.window_hits("edge:bling:token-calls", 60, clock()) == 1
    assert store.window_hits("edge:bling:errors", 10, clock()) == 1


def test_usage_shows_what_the_group_spent(store: Store) -> None:
    clock = HandClock()
    egress = BlingEgress(store, EgressSettings(group="edge"), clock=clock, sleep=clock.sleep)
    egress.before_token_call()
    egress.before_request()
    egress.answered(503)
    assert egress.usage() == {
        "group": "edge",
        "token_calls_60s": {"used": 1, "limit": 15},
        "requests_10s": {"used": 2, "limit": 500},
        "errors_10s": {"used": 1, "limit": 200},
    }
