"""A shared consumer thread sets an event aside rather than sleep through one company's booked
API quota (issue 20, item 2): the slot is not taken nor the day's call counted when it gives up,
and outside a consumer (a poll, a command) the request waits as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.errors import QuotaBusy
from infra.ratelimit import SharedThrottle, set_aside_after
from infra.store import BucketBooked, DailyCharge, DailyLimitReached, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    yield store
    store.dispose()


def test_a_slot_too_far_away_is_not_taken_nor_charged(store: Store) -> None:
    store.hold_bucket("bling:acme", time.time() + 5.0)
    day = DailyCharge("acme", "2026-12-06", 1)  # one call allowed today
    with pytest.raises(BucketBooked) as booked:
        store.reserve_slot("bling:acme", 0.5, 1, daily=day, give_up_after=2.0)
    assert 4.0 < booked.value.wait <= 5.0
    # nothing was reserved: the next caller's slot is right after the hold, not one interval later
    wait = store.reserve_slot("bling:acme", 0.5, 1, daily=day)
    assert 4.0 < wait <= 5.0
    with pytest.raises(DailyLimitReached):  # the one call of the day is the one that was taken
        store.reserve_slot("bling:acme", 0.5, 1, daily=day)


def test_inside_a_consumer_the_throttle_raises_quota_busy_at_once(store: Store) -> None:
    throttle = SharedThrottle(store, "bling:acme", per_second=3)
    store.hold_bucket("bling:acme", time.time() + 3.0)
    started = time.monotonic()
    with set_aside_after(0.5), pytest.raises(QuotaBusy) as busy:
        throttle()
    assert time.monotonic() - started < 0.5  # did not sleep
    assert busy.value.retry_after is not None and 2.0 < busy.value.retry_after <= 3.0
    assert "bling:acme" in str(busy.value) and throttle.waited == 0.0


def test_outside_a_consumer_and_under_the_bound_the_throttle_waits(store: Store) -> None:
    throttle = SharedThrottle(store, "bling:acme", per_second=3)
    store.hold_bucket("bling:acme", time.time() + 0.4)
    started = time.monotonic()
    throttle()  # no bound here (a poll, a command): waits for the slot
    assert time.monotonic() - started >= 0.3
    store.hold_bucket("bling:acme", time.time() + 0.4)
    with set_aside_after(2.0):
        throttle()  # a slot within the bound is waited for
    with set_aside_after(0):  # 0 = never set aside
        store.hold_bucket("bling:acme", time.time() + 0.4)
        throttle()
    assert throttle.waited >= 0.9
