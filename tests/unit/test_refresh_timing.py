"""When Bling tokens are refreshed: a margin proportional to their lifetime, spread by tenant.

The short-lived token test runs the real token source (store lock, vault, IP-wide token ceiling)
and the real token endpoint of the Bling simulator on one hand-driven clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.bling.client import BlingClient
from infra.bling.oauth import TokenSet, refresh_tokens
from infra.bling.refresh_timing import refresh_due_at, still_usable, tenant_phase
from infra.bling.tokens import PROVIDER, StoredBlingTokens
from infra.egress import BlingEgress
from infra.settings import EgressSettings
from infra.store import Store
from infra.token_vault import TokenVault
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread
from tests.egress_support import SimTime, max_in_any_window

KEY = "refresh timing tests key 1b9e"
CLIENT, SECRET = "timing-app", "timing-secret-1234"
EXPIRY = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def tokens_for(lifetime: float, expires_at: datetime = EXPIRY) -> TokenSet:
    return TokenSet("a", "r", expires_at=expires_at, lifetime_seconds=lifetime)


@pytest.mark.parametrize("lifetime", [60.0, 120.0, 21600.0, 30 * 86400.0])
def test_the_margin_is_a_share_of_the_lifetime(lifetime: float) -> None:
    for tenant in ("acme", "globex", "t-17", "default"):
        ahead = (EXPIRY - refresh_due_at(tokens_for(lifetime), tenant)).total_seconds()
        assert 0.05 * lifetime <= ahead <= 0.2 * lifetime


def test_tokens_saved_without_a_lifetime_count_as_bling_s_six_hours() -> None:
    old_row = TokenSet("a", "r", expires_at=EXPIRY)
    assert refresh_due_at(old_row, "acme") == refresh_due_at(tokens_for(21600), "acme")


def test_fifty_tenants_expiring_together_refresh_about_one_a_minute() -> None:
    """Bling's 6-hour tokens of 50 tenants issued in the same second: their refresh points fall
    over ~54 minutes, so they never come near the 20 token calls a minute that block the IP."""
    tenants = [f"tenant-{i:02d}" for i in range(50)]
    due = [refresh_due_at(tokens_for(21600), t).timestamp() for t in tenants]
    assert max(due) - min(due) > 40 * 60
    assert max_in_any_window(due, 60) <= 5
    assert len({round(tenant_phase(t), 6) for t in tenants}) == 50  # deterministic, not all alike
    assert tenant_phase("acme") == tenant_phase("acme")


def test_a_token_is_usable_until_the_last_twentieth_of_its_life() -> None:
    tokens = tokens_for(1000)
    assert still_usable(tokens, EXPIRY - timedelta(seconds=51))
    assert not still_usable(tokens, EXPIRY - timedelta(seconds=49))


# --- the token source against the simulator, on one clock -----------------------------------------


@pytest.fixture
def sim_time() -> SimTime:
    return SimTime(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def bling(sim_time: SimTime) -> Iterator[tuple[BlingState, str]]:
    state = BlingState(clock=sim_time.brasilia, rate_limit_per_second=1000, access_token_ttl=120)
    state.register_app(CLIENT, SECRET, "http://127.0.0.1/cb")
    server = serve_in_thread(create_bling_app(state))
    try:
        yield state, f"{server.url}/Api/v3"
    finally:
        server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'timing.sqlite3'}")
    yield s
    s.dispose()


def token_source(
    store: Store, state: BlingState, base_url: str, sim_time: SimTime, tenant: str, refreshed: list[float]
) -> StoredBlingTokens:
    vault = TokenVault(store, tenant, KEY)
    first = state.grant_tokens(CLIENT)
    vault.save(
        PROVIDER,
        TokenSet(
            first["access_token"],
            first["refresh_token"],
            expires_at=sim_time.utc() + timedelta(seconds=first["expires_in"]),
            lifetime_seconds=float(first["expires_in"]),
        ),
    )

    def refresh(refresh_token: str) -> TokenSet:
        refreshed.append(sim_time.epoch())
        return refresh_tokens(base_url, CLIENT, SECRET, refresh_token, now=sim_time.utc)

    egress = BlingEgress(store, EgressSettings(), clock=sim_time.epoch, sleep=sim_time.sleep)
    return StoredBlingTokens(vault, store, refresh, tenant=tenant, egress=egress, now=sim_time.utc)


def test_a_token_shorter_lived_than_the_old_fixed_margin_is_refreshed_only_near_expiry(
    bling: tuple[BlingState, str], store: Store, sim_time: SimTime
) -> None:
    """Tokens of 120 s (the old margin was a fixed 300 s: a refresh before every request): one
    request every 4 s for 10 minutes refreshes about once per 100 s, each time in the last fifth
    of the token's life and before it expired; every request is answered, none with 401."""
    state, base_url = bling
    refreshed: list[float] = []
    tokens = token_source(store, state, base_url, sim_time, "acme", refreshed)
    issued_at: dict[str, float] = {}
    client = BlingClient(base_url, tokens)
    try:
        for _ in range(150):
            token = tokens.access_token()
            issued_at.setdefault(token, sim_time.epoch())
            client.contacts_page(1)
            sim_time.advance(4)
    finally:
        client.close()
    assert 600 / 120 <= len(refreshed) <= 600 / 90 + 1, refreshed  # ~6, nowhere near 150
    assert state.token_calls == len(refreshed)  # no refresh came from a 401
    starts = sorted(issued_at.values())
    for previous, refresh_moment in zip(starts, refreshed, strict=False):
        age = refresh_moment - previous
        assert 0.8 * 120 - 4 <= age < 120, f"refreshed {age:.0f} s into a 120 s token"


def test_a_due_refresh_without_a_token_slot_keeps_using_the_valid_token(
    bling: tuple[BlingState, str], store: Store, sim_time: SimTime
) -> None:
    """The IP's token calls are all taken by other tenants: a token that still works is used on
    (no wait, no refresh) and the refresh is tried again when the window has room; an expired one
    waits for a slot instead of being sent."""
    state, base_url = bling
    refreshed: list[float] = []
    tokens = token_source(store, state, base_url, sim_time, "acme", refreshed)
    crowd = BlingEgress(store, EgressSettings(), clock=sim_time.epoch)
    first = tokens.access_token()
    stored = tokens.vault.load(PROVIDER)
    assert stored is not None
    sim_time.advance((refresh_due_at(stored, "acme") - sim_time.utc()).total_seconds())
    for _ in range(15):
        crowd.before_token_call(max_wait=0)  # other tenants take every slot of this minute
    assert tokens.access_token() == first and refreshed == []  # due, but used on
    assert tokens.access_token() == first and refreshed == []  # and not retried at every request
    sim_time.advance(62)  # the window has room again (the old token expired meanwhile)
    second = tokens.access_token()
    assert second != first and len(refreshed) == 1
    stored = tokens.vault.load(PROVIDER)
    assert stored is not None
    sim_time.advance((stored.expires_at - sim_time.utc()).total_seconds() + 1)  # expired
    for _ in range(15):
        crowd.before_token_call(max_wait=0)
    waited_from = sim_time.epoch()
    third = tokens.access_token()  # waits (on the simulated clock) for a slot, then refreshes
    assert third not in (first, second) and len(refreshed) == 2
    assert sim_time.epoch() - waited_from >= 60
