"""The Bling simulator's per-IP limits (specs/README.md) and the counters the tests read."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from starlette.testclient import TestClient

from simulators.bling import BlingState, create_bling_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIENT_ID, SECRET = "app-ip", "s3cret-ip"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> BlingState:
    s = BlingState(clock=clock, rate_limit_per_second=100_000)
    s.register_app(CLIENT_ID, SECRET, "http://localhost/cb")
    return s


def client_from(state: BlingState, ip: str) -> TestClient:
    return TestClient(create_bling_app(state), client=(ip, 40000))


@pytest.fixture
def one(state: BlingState) -> Iterator[TestClient]:
    with client_from(state, "10.0.0.1") as c:
        yield c


@pytest.fixture
def other(state: BlingState) -> Iterator[TestClient]:
    with client_from(state, "10.0.0.2") as c:
        yield c


def bearer(state: BlingState) -> dict[str, str]:
    return {"Authorization": f"Bearer {state.grant_tokens(CLIENT_ID)['access_token']}"}


def token_call(client: TestClient) -> httpx.Response:
    raw = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    return client.post(
        "/Api/v3/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": "unknown"},
        headers={"Authorization": f"Basic {raw}"},
    )


def description(response: httpx.Response) -> str:
    return str(response.json()["error"]["description"])


def test_600_requests_in_10_s_block_the_ip_on_every_endpoint_for_minutes(
    state: BlingState, one: TestClient, other: TestClient, clock: FakeClock
) -> None:
    auth = bearer(state)
    answers = []
    for i in range(601):
        answers.append(one.get("/Api/v3/contatos", headers=auth).status_code)
        if i % 100 == 99:
            clock.advance(seconds=1)
    assert answers == [200] * 600 + [429]
    assert state.ip.blocks[-1].reason == "requests"
    refused = one.get("/Api/v3/produtos", headers=auth)
    assert refused.status_code == 429 and "IP" in description(refused)
    assert token_call(one).status_code == 429  # the token endpoint too
    assert other.get("/Api/v3/contatos", headers=auth).status_code == 200  # another address is fine
    clock.advance(minutes=9)
    assert one.get("/Api/v3/contatos", headers=auth).status_code == 429
    clock.advance(minutes=1, seconds=1)
    assert one.get("/Api/v3/contatos", headers=auth).status_code == 200
    assert state.ip.max_in_window("10.0.0.1", "requests", 10) == 600


def test_300_errors_in_10_s_block_the_ip(state: BlingState, one: TestClient, clock: FakeClock) -> None:
    statuses = [one.get("/Api/v3/contatos/999999").status_code for _ in range(300)]  # 401: no token
    assert statuses == [401] * 300 and not state.ip.blocks
    assert one.get("/Api/v3/contatos/999999").status_code == 401  # the 301st error blocks ...
    assert state.ip.blocks[-1].reason == "errors"
    refused = one.get("/Api/v3/contatos", headers=bearer(state))  # ... every later request
    assert refused.status_code == 429 and "erro" in description(refused)
    clock.advance(minutes=10, seconds=1)
    assert one.get("/Api/v3/contatos", headers=bearer(state)).status_code == 200


def test_errors_spread_over_more_than_10_s_do_not_block(
    state: BlingState, one: TestClient, clock: FakeClock
) -> None:
    for _ in range(6):
        for _ in range(250):
            one.get("/Api/v3/contatos/1")
        clock.advance(seconds=10)
    assert not state.ip.blocks
    assert state.ip.max_in_window("10.0.0.1", "errors", 10) == 250


def test_the_token_call_block_is_an_hour_for_the_whole_ip(
    state: BlingState, one: TestClient, other: TestClient, clock: FakeClock
) -> None:
    auth = bearer(state)
    assert [token_call(one).status_code for _ in range(21)] == [400] * 20 + [429]
    assert state.ip.blocks[-1].reason == "token_calls"
    assert one.get("/Api/v3/contatos", headers=auth).status_code == 429
    assert token_call(other).status_code == 400  # per IP
    clock.advance(minutes=59)
    assert one.get("/Api/v3/contatos", headers=auth).status_code == 429
    clock.advance(minutes=1, seconds=1)
    assert one.get("/Api/v3/contatos", headers=auth).status_code == 200
    assert state.ip.max_in_window("10.0.0.1", "token_calls", 60) == 20
    assert state.token_calls == 22


def test_counters_are_per_ip_over_any_window(state: BlingState, one: TestClient, clock: FakeClock) -> None:
    """The worst window is found wherever it lies, not only in fixed minutes."""
    for _ in range(10):
        token_call(one)
        clock.advance(seconds=5)
    clock.advance(seconds=60)
    for _ in range(12):
        token_call(one)
        clock.advance(seconds=4)
    assert state.ip.max_in_window("10.0.0.1", "token_calls", 60) == 12
    assert state.ip.max_in_window("10.0.0.1", "errors", 10) == 3
    assert state.ip.times("10.0.0.2", "token_calls") == []
    assert not state.ip.blocks
