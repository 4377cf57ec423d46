"""Tenants kept in the database, followed by running processes (issue 20, item 4), on the real
RabbitMQ and PostgreSQL with the shared topology: a company added (disabled, authorized, then
enabled) is served within a poll interval by the same threads, without a restart; one removed
stops being polled at once while its events still queued are handled (drained)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.company_options import tenant_settings
from auvo_bling.runtime import start
from auvo_bling.tenancy import Deployment
from auvo_bling.tenant_registry import add_tenant, set_tenant_state, with_database_tenants
from auvo_bling.wiring import App
from contracts.events import auvo_customer_changed
from infra.bus.publisher import Publisher
from infra.settings import Settings
from simulators.seed import seed_auvo_customers
from tests.support import CLIENT_ID, CLIENT_SECRET, REDIRECT, Simulators, wait_until
from tests.tenant_support import markers

pytestmark = pytest.mark.integration

POLL = {"interval_seconds": 0.3, "max_interval_seconds": 1.0, "overlap_seconds": 5}


@pytest.fixture
def bootstrap(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Settings:
    return Settings(
        amqp_url=amqp_url,
        database_url=pg_url,
        secret_key="test-secret-key-for-token-encryption",
        bus={
            "prefix": bus_prefix,
            "topology": "shared",
            "live_worker_threads": 2,
            "poll_threads": 3,
            "retry_delays_seconds": [0.3, 0.6, 1.0],
            "max_attempts": 5,
        },
        poll=POLL,
        **sims.settings_overrides(),
    )


@pytest.fixture
def deployment(bootstrap: Settings) -> Iterator[Deployment]:
    deployment = Deployment.of(bootstrap, worker_threads=2)
    for app in deployment.apps:
        authorize_headless(app)
    yield deployment
    deployment.close()


def other_company(other: Simulators) -> tuple[dict, dict]:
    """(its company options, credentials included; its section: the simulator's addresses)."""
    options = {
        "auvo.api_key": other.auvo.api_key,
        "auvo.api_token": other.auvo.api_token,
        "bling.client_id": CLIENT_ID,
        "bling.client_secret": CLIENT_SECRET,
    }
    section = {
        "auvo": {"base_url": other.auvo_url, "requests_per_minute": other.auvo.rate_limit_per_minute},
        "bling": {"base_url": other.bling_url, "redirect_uri": REDIRECT, "requests_per_second": 40},
        "poll": POLL,
    }
    return options, section


def test_a_company_added_to_the_database_is_served_without_a_restart_and_drained_when_removed(
    deployment: Deployment, bootstrap: Settings, sims: Simulators, other_sims: Simulators, amqp_url: str
) -> None:
    store = deployment.store
    seed_auvo_customers(sims.auvo, 2, rng_seed=61)
    running = start(deployment.apps, poll_interval=0.3, worker_threads=2, registry=deployment)
    try:
        wait_until(lambda: len(markers(sims)) == 2, 30, "the first company synced")
        [polling] = running.schedulers
        threads = sorted(t.name for group in running.consumers for _, t in group.current)
        seed_auvo_customers(other_sims.auvo, 3, rng_seed=62)

        # the way an integrator adds a company: disabled, authorized, then enabled
        options, section = other_company(other_sims)
        merged = add_tenant(store, bootstrap, "acme", options, "test", enabled=False, section=section)
        acme = App(tenant_settings(store, merged, "acme"), shared_store=store)
        assert acme.settings.auvo.base_url == other_sims.auvo_url  # the section, from the database
        authorize_headless(acme)
        time.sleep(1.0)  # a few looks at the registry: a disabled tenant is not served
        assert "acme" not in polling.scheduler.tenants() and not markers(other_sims)

        enabled_at = time.monotonic()
        set_tenant_state(store, bootstrap, "acme", "enabled", "test")
        wait_until(lambda: "acme" in polling.scheduler.tenants(), 5, "the new company polled")
        served_after = time.monotonic() - enabled_at
        wait_until(lambda: len(markers(other_sims)) == 3, 30, "the new company's customers in its Bling")
        assert served_after < 2.0  # within a few poll intervals (0.3 s here)
        assert len(markers(sims)) == 2  # nothing of the new company reached the first one's Bling
        # the same pool: no thread of its own for the new company, no restart
        assert sorted(t.name for group in running.consumers for _, t in group.current) == threads
        assert running.pulse is not None and sorted(running.pulse.tenants) == ["acme", "default"]

        # removed: no longer polled; an event of its still queued (a retry coming back) is handled
        set_tenant_state(store, bootstrap, "acme", "removed", "test")
        wait_until(lambda: "acme" not in polling.scheduler.tenants(), 5, "the removed company not polled")
        queued, _unseen = seed_auvo_customers(other_sims.auvo, 2, rng_seed=63)
        publisher = Publisher(amqp_url, acme.topology)
        publisher.publish(auvo_customer_changed(queued, tenant="acme"))
        publisher.close()
        wait_until(lambda: len(markers(other_sims)) == 4, 30, "the queued event drained")
        time.sleep(1.5)  # several poll intervals: the other new customer is not polled
        assert len(markers(other_sims)) == 4
        assert "acme" not in with_database_tenants(bootstrap, store).tenant_names()
        assert running.consumer_stats().get("dead_lettered", 0) == 0
    finally:
        running.stop()
    acme.close()


def test_a_new_company_missing_a_credential_waits_and_the_others_go_on(
    deployment: Deployment, bootstrap: Settings, sims: Simulators, other_sims: Simulators
) -> None:
    store = deployment.store
    running = start(deployment.apps, poll_interval=0.3, worker_threads=2, registry=deployment)
    try:
        [polling] = running.schedulers
        options, section = other_company(other_sims)
        del options["bling.client_secret"]
        add_tenant(store, bootstrap, "acme", options, "test", section=section)
        time.sleep(1.0)
        assert "acme" not in polling.scheduler.tenants()  # not served with a credential missing
        seed_auvo_customers(sims.auvo, 2, rng_seed=64)
        wait_until(lambda: len(markers(sims)) == 2, 30, "the first company still synced")
    finally:
        running.stop()


def test_the_per_tenant_layout_follows_the_registry_too(
    bootstrap: Settings, sims: Simulators, other_sims: Simulators
) -> None:
    """Today's default layout: the new company gets its own queues and consumer threads at once;
    removed, its pollers stop (its consumers go on with its queues until the process restarts)."""
    per_tenant = bootstrap.model_copy(
        update={"bus": bootstrap.bus.model_copy(update={"topology": "per_tenant"})}
    )
    deployment = Deployment.of(per_tenant)
    store = deployment.store
    for app in deployment.apps:
        authorize_headless(app)
    options, section = other_company(other_sims)
    merged = add_tenant(store, per_tenant, "acme", options, "test", enabled=False, section=section)
    acme = App(tenant_settings(store, merged, "acme"), shared_store=store)
    authorize_headless(acme)
    seed_auvo_customers(other_sims.auvo, 2, rng_seed=65)
    running = start(deployment.apps, poll_interval=0.3, registry=deployment)
    try:
        assert [group.label for group in running.consumers] == ["default"]
        set_tenant_state(store, per_tenant, "acme", "enabled", "test")
        wait_until(lambda: len(markers(other_sims)) == 2, 30, "the new company's customers in its Bling")
        assert [group.label for group in running.consumers] == ["default", "acme"]
        acme_pollers = [t for t in running.threads if t.name.startswith("poller-acme-")]
        assert acme_pollers
        set_tenant_state(store, per_tenant, "acme", "removed", "test")
        wait_until(
            lambda: not [t for t in running.threads if t.name.startswith("poller-acme-")], 5, "acme's pollers"
        )
        # a pass already under way finishes (it may still see what changed before it ended)
        wait_until(lambda: not any(t.is_alive() for t in acme_pollers), 15, "acme's last passes ended")
        seed_auvo_customers(other_sims.auvo, 1, rng_seed=66)
        time.sleep(1.5)
        assert len(markers(other_sims)) == 2  # not polled any more
        assert [t for t in running.threads if t.name.startswith("poller-default-")]  # the other goes on
        # enabled again in the same process: polled again, by its one consumer group
        set_tenant_state(store, per_tenant, "acme", "enabled", "test")
        wait_until(lambda: len(markers(other_sims)) == 3, 30, "the company served again")
        assert [group.label for group in running.consumers] == ["default", "acme"]
    finally:
        running.stop()
        acme.close()
        deployment.close()
