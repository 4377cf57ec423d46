"""Bling's daily limit reached mid-sync, on the real RabbitMQ and PostgreSQL, with an injected clock.

The account's other apps have spent most of the day's quota; the contatos sync hits Bling's daily
answer halfway. Nothing may be dead-lettered, Bling hears at most one probe a minute while the
quota is spent, `status` says "daily quota" with the numbers, and when the Bling day turns the
tenant resumes by itself and every customer lands exactly once.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.ops_cli import _render_status
from auvo_bling.runtime import start
from auvo_bling.status import collect_status
from auvo_bling.tenancy import Deployment
from auvo_bling.wiring import App
from infra.quota import BRASILIA, next_day_start
from infra.settings import Settings
from simulators.seed import seed_auvo_customers
from tests.support import Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration

CUSTOMERS = 40
DAILY_LIMIT = 500
LEFT_TODAY = 25  # what the account's other apps left of today's quota
PROBE_SECONDS = 60.0


class OffsetClock:
    """Real time moved forward by hand: rate-limit windows still slide, the Bling day can turn."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def brasilia(self) -> datetime:
        """The Bling simulator's clock: naive Brasília time."""
        return self().astimezone(BRASILIA).replace(tzinfo=None)


def markers(sims: Simulators) -> Counter[str]:
    with sims.bling.lock:
        return Counter(
            str(c.get("codigo"))
            for c in sims.bling.contacts.values()
            if str(c.get("codigo")).startswith("AUVO-")
        )


def bling_requests(sims: Simulators) -> int:
    with sims.bling.lock:
        return sum(sims.bling.calls.values()) + sum(sims.bling.refused.values())


@pytest.fixture
def app(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[tuple[App, OffsetClock]]:
    clock = OffsetClock()
    sims.bling.set_clock(clock.brasilia)
    sims.bling.daily_limit = DAILY_LIMIT
    bling = {**sims.settings_overrides()["bling"], "quota_probe_seconds": PROBE_SECONDS}
    settings = build_settings(
        amqp_url,
        pg_url,
        sims,
        customers={"direction": "auvo_to_bling"},
        bling=bling,
        bus={"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix},
    )
    application = App(settings, clock=clock)
    try:
        yield application, clock
    finally:
        application.close()


def test_daily_limit_mid_sync_pauses_probes_rarely_and_resumes_when_the_day_turns(
    app: tuple[App, OffsetClock], sims: Simulators, capsys: pytest.CaptureFixture[str]
) -> None:
    application, clock = app
    authorize_headless(application)
    seed_auvo_customers(sims.auvo, CUSTOMERS, rng_seed=5)
    sims.bling.spend_daily(DAILY_LIMIT - LEFT_TODAY)
    running = start(application, worker_threads=1)
    try:
        wait_until(
            lambda: (
                (p := application.store.tenant_pause(application.tenant)) is not None
                and p.error_class == "DailyQuotaExhausted"
            ),
            90,
            "the tenant to pause for Bling's daily limit",
        )
        landed = len(markers(sims))
        assert 0 < landed < CUSTOMERS, landed

        # while the quota is spent: the consumers stop, the pollers skip, one probe a minute at most
        time.sleep(3)  # what was in flight when the pause began settles
        before, started = bling_requests(sims), sims.bling._ts()
        time.sleep(PROBE_SECONDS + 5)
        during = bling_requests(sims) - before
        probes = [t for t in sims.bling.daily_refused_at if t >= started]
        assert during <= 2, during
        assert all(b - a >= PROBE_SECONDS - 5 for a, b in itertools.pairwise(probes)), probes
        assert len(markers(sims)) == landed

        status = collect_status(application)
        assert status["paused"]["daily_quota"] is True
        assert status["paused"]["error_class"] == "DailyQuotaExhausted"
        assert "daily quota" in status["paused"]["reason"]
        assert f"O limite diário de {DAILY_LIMIT} requisições" in status["paused"]["reason"]
        budget = status["bling_budget"]
        assert budget["used"] == application.store.daily_calls(application.tenant, budget["day"]) > 0
        assert budget["budget"] == 30_000 and budget["remaining"] == 30_000 - budget["used"]
        assert status["dlq"]["total"] == 0
        _render_status(status)
        shown = capsys.readouterr().out
        assert "DAILY QUOTA" in shown and f"{budget['used']} of 30000 Bling calls used" in shown

        # the Bling day turns (midnight Brasília): the tenant resumes by itself and everything lands once
        clock.offset += next_day_start(clock()) - clock() + timedelta(seconds=30)
        wait_until(
            lambda: application.store.tenant_pause(application.tenant) is None, 30, "the tenant to resume"
        )
        wait_until(lambda: len(markers(sims)) == CUSTOMERS, 120, "every customer to land in Bling")
        time.sleep(2)  # a duplicate would show up now
        assert all(n == 1 for n in markers(sims).values()), markers(sims).most_common(3)
        assert len(sims.bling.contacts) == CUSTOMERS
        assert collect_status(application)["dlq"]["total"] == 0
    finally:
        running.stop()


def test_another_tenant_goes_on_while_one_waits_for_its_daily_quota(
    amqp_url: str, pg_url: str, sims: Simulators, other_sims: Simulators, bus_prefix: str
) -> None:
    values = {
        "amqp_url": amqp_url,
        "database_url": pg_url,
        "secret_key": "test-secret-key-for-token-encryption",
        "bus": {"prefix": bus_prefix, "retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5},
        "poll": {"interval_seconds": 0.3, "overlap_seconds": 5},
        **sims.settings_overrides(),
        "tenants": {"acme": {"poll": {"interval_seconds": 0.3}, **other_sims.settings_overrides()}},
    }
    deployment = Deployment.of(Settings(**values))
    sims.bling.daily_limit = DAILY_LIMIT
    sims.bling.spend_daily(DAILY_LIMIT - 5)  # the default tenant's account is nearly spent today
    seed_auvo_customers(sims.auvo, 20, rng_seed=3)
    seed_auvo_customers(other_sims.auvo, 20, rng_seed=4)
    running = None
    try:
        for application in deployment.apps:
            authorize_headless(application)
        running = start(deployment.apps, worker_threads=1)
        store = deployment.store
        wait_until(
            lambda: (
                (p := store.tenant_pause("default")) is not None and p.error_class == "DailyQuotaExhausted"
            ),
            90,
            "the default tenant to pause for Bling's daily limit",
        )
        wait_until(lambda: len(markers(other_sims)) == 20, 90, "the other tenant's customers to land")
        assert store.tenant_pause("acme") is None
        assert store.tenant_pause("default") is not None and len(markers(sims)) < 20
        assert all(n == 1 for n in markers(other_sims).values())
        other = deployment.app("acme")
        assert collect_status(other)["paused"] is None and collect_status(other)["dlq"]["total"] == 0
        assert collect_status(deployment.app("default"))["dlq"]["total"] == 0
    finally:
        if running is not None:
            running.stop()
        deployment.close()
