"""50 tenants whose Bling tokens expire at the same moment, behind one IP.

Two "processes" (two stores on one PostgreSQL database, each with its own worker threads and its
own token source per tenant) write events for 50 tenants to one Bling simulator, through the real
token source (store lock, vault, the IP-wide token ceiling) and the real token endpoint. Time is
one accelerated clock for the simulator, the store's windows and the token expiry, so an hour of
Bling's time passes in seconds. The simulator's per-IP counters are the judge: never more than 20
token calls in any 60 s, no IP block, no `invalid_grant`, every event written once.

The integration keeps 15 a minute; the simulator may see a few more in its worst minute because the
accelerated clock stretches its serving: it answers one request at a time, ~45 ms each, which is
about 5 simulated seconds, so calls let through at the end of one minute can arrive in the next.
That is what the headroom under Bling's 20 is for (real transit takes milliseconds).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from infra.bling.client import BlingClient
from infra.bling.oauth import TokenSet, refresh_tokens
from infra.bling.tokens import PROVIDER, StoredBlingTokens
from infra.egress import BlingEgress, ChainedThrottle
from infra.settings import EgressSettings
from infra.store import Store
from infra.token_vault import TokenVault
from simulators.bling import BlingState, create_bling_app
from simulators.server import RunningServer, serve_in_thread
from tests.egress_support import SimTime

pytestmark = pytest.mark.integration

KEY = "refresh burst tests key 77a0"
CLIENT, SECRET = "burst-app", "burst-secret-5678"
TENANTS = [f"tenant-{i:02d}" for i in range(50)]
LIFETIME = 21600  # Bling's 6 hours
IP = "127.0.0.1"


@dataclass
class Burst:
    sim_time: SimTime
    state: BlingState
    server: RunningServer
    stores: list[Store]
    failures: list[str] = field(default_factory=list)
    refreshes: dict[str, int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/Api/v3"


@pytest.fixture
def burst(pg_url: str) -> Iterator[Burst]:
    sim_time = SimTime(datetime(2026, 12, 2, 6, 0, tzinfo=UTC), speed=120)
    # one simulated Bling company hosts every tenant's data here: its per-account quota is not
    # what this test is about, its per-IP limits are Bling's
    state = BlingState(clock=sim_time.brasilia, rate_limit_per_second=100_000, access_token_ttl=LIFETIME)
    state.register_app(CLIENT, SECRET, "http://127.0.0.1/cb")
    server = serve_in_thread(create_bling_app(state))
    stores = [Store(pg_url, pool_size=12, max_overflow=12), Store(pg_url, pool_size=8, max_overflow=8)]
    for tenant in TENANTS:  # every tenant authorized in the same second: they expire together
        issued = state.grant_tokens(CLIENT)
        TokenVault(stores[0], tenant, KEY).save(
            PROVIDER,
            TokenSet(
                issued["access_token"],
                issued["refresh_token"],
                expires_at=sim_time.utc() + timedelta(seconds=issued["expires_in"]),
                lifetime_seconds=float(issued["expires_in"]),
            ),
        )
    try:
        yield Burst(sim_time, state, server, stores)
    finally:
        server.stop()
        for store in stores:
            store.dispose()


def run_events(burst: Burst, *, rounds: int, every_s: float, threads: tuple[int, int] = (10, 6)) -> None:
    """Each tenant writes one contato per round (tenants staggered over the round), taken by
    whichever process's worker is free; returns when every event was handled."""
    sim_time = burst.sim_time
    sources: list[dict[str, BlingClient]] = []
    counted: list[StoredBlingTokens] = []
    for store in burst.stores:
        egress = BlingEgress(store, EgressSettings(), clock=sim_time.epoch, sleep=sim_time.sleep)
        clients = {}
        for tenant in TENANTS:

            def refresh(refresh_token: str) -> TokenSet:
                return refresh_tokens(burst.base_url, CLIENT, SECRET, refresh_token, now=sim_time.utc)

            tokens = StoredBlingTokens(
                TokenVault(store, tenant, KEY), store, refresh, tenant=tenant, egress=egress, now=sim_time.utc
            )
            counted.append(tokens)
            clients[tenant] = BlingClient(burst.base_url, tokens, throttle=ChainedThrottle(egress.throttle()))
        sources.append(clients)
    work: queue.Queue[tuple[str, int] | None] = queue.Queue()
    lock = threading.Lock()

    def worker(process: int) -> None:
        while (item := work.get()) is not None:
            tenant, n = item
            try:
                sources[process][tenant].create_contact(
                    {"nome": f"{tenant} event {n}", "tipo": "F", "situacao": "A"}
                )
            except Exception as exc:  # collected: the test fails on any of them
                with lock:
                    burst.failures.append(f"{tenant} event {n}: {type(exc).__name__}: {exc}")

    workers = [
        threading.Thread(target=worker, args=(process,), daemon=True)
        for process, count in enumerate(threads)
        for _ in range(count)
    ]
    for w in workers:
        w.start()
    start = sim_time.epoch()
    schedule = sorted(
        (start + r * every_s + i * every_s / len(TENANTS), tenant, r)
        for r in range(rounds)
        for i, tenant in enumerate(TENANTS)
    )
    for at, tenant, n in schedule:
        sim_time.sleep(at - sim_time.epoch())
        work.put((tenant, n))
    for _ in workers:
        work.put(None)
    for w in workers:
        w.join(timeout=240)
    assert not any(w.is_alive() for w in workers), "workers did not finish"
    for clients in sources:
        for client in clients.values():
            client.close()
    for tokens in counted:
        burst.refreshes[tokens.tenant] = burst.refreshes.get(tokens.tenant, 0) + tokens.refreshes


def assert_every_event_landed_once(burst: Burst, rounds: int) -> None:
    with burst.state.lock:
        names = sorted(c["nome"] for c in burst.state.contacts.values())
    assert names == sorted(f"{t} event {n}" for t in TENANTS for n in range(rounds))


def test_tokens_expiring_together_are_refreshed_spread_out_under_the_ip_ceiling(burst: Burst) -> None:
    """From 75 to 10 minutes before the common expiry, an event per tenant every 5 minutes: each
    tenant refreshes once, at its own point of the margin (72 to 18 minutes before expiry)."""
    burst.sim_time.advance(LIFETIME - 75 * 60)
    rounds = 13  # 65 minutes
    run_events(burst, rounds=rounds, every_s=300)
    assert burst.failures == []
    ip = burst.state.ip
    worst = ip.max_in_window(IP, "token_calls", 60)
    print(f"\nspread: {burst.state.token_calls} token calls, worst 60 s: {worst}, blocks: {ip.blocks}")
    assert burst.state.token_calls == len(TENANTS)  # one refresh per tenant, across both processes
    assert sum(burst.refreshes.values()) == len(TENANTS) and set(burst.refreshes) == set(TENANTS)
    assert ip.blocks == [] and ip.refused == {}
    assert worst <= 8, "the refreshes were not spread over the margin"  # the ceiling alone allows 15
    assert_every_event_landed_once(burst, rounds)


def test_tokens_all_expired_at_once_are_refreshed_at_most_15_a_minute(burst: Burst) -> None:
    """The deployment was down when the tokens expired: all 50 tenants need a refresh at the first
    event. The IP-wide token ceiling queues them (≤ 15 in any 60 s); every event still lands.

    At a slower clock than the other test: at 120x the simulator's serial serving alone would
    spread 50 calls over minutes, and the test could not fail without the ceiling."""
    burst.sim_time.set_speed(20)
    burst.sim_time.advance(LIFETIME + 60)
    rounds = 2
    run_events(burst, rounds=rounds, every_s=30)
    assert burst.failures == []
    ip = burst.state.ip
    worst = ip.max_in_window(IP, "token_calls", 60)
    calls = ip.times(IP, "token_calls")
    print(f"\nall expired: {len(calls)} token calls over {calls[-1] - calls[0]:.0f} s, worst 60 s: {worst}")
    assert worst <= 20  # Bling's limit: more would have blocked the IP (see the module's text)
    assert burst.state.token_calls == len(TENANTS)
    assert ip.blocks == [] and ip.refused == {}
    assert calls[-1] - calls[0] >= 60 * (len(TENANTS) // 15) - 5  # they really were queued
    assert_every_event_landed_once(burst, rounds)
