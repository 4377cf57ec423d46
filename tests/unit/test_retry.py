"""infra.retry: the one in-process retry helper (backfill calls, the Bling poller's full reads)."""

from __future__ import annotations

import pytest

from infra.errors import ApiRejected, ApiUnavailable, EntityBusy, RateLimited
from infra.retry import doubling, linear, retry_transient


def flaky(errors: list[Exception], result: str = "ok"):
    calls = []

    def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return call, calls


def test_transient_failures_are_retried_with_the_backoff() -> None:
    call, calls = flaky([ApiUnavailable("down"), ApiUnavailable("down")])
    waits: list[float] = []
    assert retry_transient(call, attempts=3, backoff=doubling(0.5), sleep=waits.append) == "ok"
    assert len(calls) == 3 and waits == [0.5, 1.0]


def test_retry_after_wins_over_the_backoff() -> None:
    call, _ = flaky([RateLimited("429", retry_after=7.0)])
    waits: list[float] = []
    seen: list[tuple[int, float]] = []
    retry_transient(
        call,
        attempts=2,
        backoff=linear(0.2),
        sleep=waits.append,
        on_retry=lambda _e, a, d: seen.append((a, d)),
    )
    assert waits == [7.0] and seen == [(1, 7.0)]


def test_the_last_attempt_raises() -> None:
    call, calls = flaky([ApiUnavailable("down")] * 3)
    with pytest.raises(ApiUnavailable):
        retry_transient(call, attempts=3, backoff=linear(0.1), sleep=lambda _: None)
    assert len(calls) == 3


def test_permanent_and_given_up_errors_raise_at_once() -> None:
    call, calls = flaky([ApiRejected("bad")])
    with pytest.raises(ApiRejected):
        retry_transient(call, attempts=5, backoff=linear(0.1), sleep=lambda _: None)
    call, calls = flaky([EntityBusy("busy")])
    with pytest.raises(EntityBusy):
        retry_transient(call, attempts=5, backoff=linear(0.1), give_up_on=(EntityBusy,), sleep=lambda _: None)
    assert len(calls) == 1


def test_doubling_is_capped() -> None:
    assert [doubling(1.0, cap_seconds=5.0)(a) for a in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
