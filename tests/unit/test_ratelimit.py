"""The shared throttle slows every caller down when the API says "too many requests"."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from infra.http import is_rate_limited, send
from infra.ratelimit import SharedThrottle
from infra.store import Store


def test_penalize_holds_the_bucket_for_every_caller(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    first = SharedThrottle(store, "bling:acct", per_second=100)
    second = SharedThrottle(store, "bling:acct", per_second=100)  # another process, same account
    first()
    first.penalize(0.5)
    started = time.monotonic()
    second()
    assert 0.4 <= time.monotonic() - started <= 0.8
    started = time.monotonic()
    first()
    assert time.monotonic() - started < 0.1  # back to the normal pace afterwards


def test_rate_limited_answers_are_recognised() -> None:
    assert is_rate_limited(httpx.Response(429, json={"error": {"type": "TOO_MANY_REQUESTS"}}))
    assert is_rate_limited(httpx.Response(403, json={"error": "Rate limit temporarily exceeded"}))
    assert not is_rate_limited(httpx.Response(403, json={"error": {"type": "insufficient_scope"}}))
    assert not is_rate_limited(httpx.Response(500))


class RecordingThrottle:
    def __init__(self) -> None:
        self.calls = 0
        self.penalties: list[float] = []

    def __call__(self) -> None:
        self.calls += 1

    def penalize(self, seconds: float) -> None:
        self.penalties.append(seconds)


def test_send_penalizes_with_retry_after_when_given() -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(429), httpx.Response(200)]
    )
    client = httpx.Client(transport=httpx.MockTransport(lambda _: next(answers)), base_url="http://api")
    throttle = RecordingThrottle()
    for _ in range(3):
        send(client, client.build_request("GET", "/x"), service="Bling", throttle=throttle)
    assert throttle.calls == 3
    assert throttle.penalties == [3.0, 1.0]


def test_repeated_429s_slow_this_process_down_and_it_recovers_within_dozens_of_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    throttle = SharedThrottle(store, "bling:acct", per_second=100)  # configured far above the real limit
    configured = throttle.effective_interval
    clock = [1000.0]
    monkeypatch.setattr("infra.ratelimit.time.monotonic", lambda: clock[0])
    for _ in range(3):
        throttle.penalize(0.0)  # answered together: one slowdown
    assert throttle.effective_interval == pytest.approx(configured * 1.5)
    for _ in range(2):
        clock[0] += 1.0
        throttle.penalize(0.0)  # 429s that keep coming: slower each time
    assert throttle.effective_interval == pytest.approx(configured * 1.5**3)
    for _ in range(10):
        throttle()
    assert configured < throttle.effective_interval < configured * 1.5**3  # relaxing, not yet back
    for _ in range(30):
        throttle()
    assert throttle.effective_interval == pytest.approx(configured)  # a sporadic 429 is forgotten
