"""Two tenants in one deployment, on the real RabbitMQ and PostgreSQL, each with its own Auvo and
Bling simulators: nothing crosses between them, and a broken tenant does not stop the other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import Running, start
from auvo_bling.tenancy import Deployment
from contracts.events import auvo_customer_changed
from infra.bling.tokens import PROVIDER
from infra.bus.publisher import Publisher
from infra.bus.topology import TO_BLING_CONTACTS
from infra.settings import Settings
from simulators.seed import seed_auvo_customers
from tests.ops_support import Cli, logs_aside
from tests.support import Simulators, wait_until
from tests.tenant_support import auvo_ids, contact_posts, dlq_headers, markers, plain_values

pytestmark = pytest.mark.integration

OTHER = "acme"  # the named tenant; the top-level one is "default"


@pytest.fixture
def values(amqp_url: str, pg_url: str, sims: Simulators, other_sims: Simulators, bus_prefix: str) -> dict:
    return {
        "amqp_url": amqp_url,
        "database_url": pg_url,
        "secret_key": "test-secret-key-for-token-encryption",
        "bus": {"prefix": bus_prefix, "retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5},
        "poll": {"interval_seconds": 0.3, "max_interval_seconds": 1.0, "overlap_seconds": 5},
        **sims.settings_overrides(),
        "tenants": {
            OTHER: {
                "poll": {"interval_seconds": 0.3, "max_interval_seconds": 1.0, "overlap_seconds": 5},
                **other_sims.settings_overrides(),
            }
        },
    }


@pytest.fixture
def deployment(values: dict) -> Iterator[Deployment]:
    deployment = Deployment.of(Settings(**values))
    for app in deployment.apps:
        authorize_headless(app)
    yield deployment
    deployment.close()


@pytest.fixture
def cli(values: dict, tmp_path: Path) -> Cli:
    path = tmp_path / "tenants.toml"
    path.write_text(tomlkit.dumps(plain_values(values)), encoding="utf-8")
    return Cli(path)


def _stop(running: Running | None) -> None:
    if running is not None:
        running.stop()


def test_each_tenant_writes_only_its_own_accounts(
    deployment: Deployment, sims: Simulators, other_sims: Simulators
) -> None:
    seed_auvo_customers(sims.auvo, 5, rng_seed=31)
    seed_auvo_customers(other_sims.auvo, 4, rng_seed=32)
    mine, theirs = deployment.app("default"), deployment.app(OTHER)
    running = start(deployment.apps, poll_interval=0.3)
    try:
        wait_until(
            lambda: len(markers(sims)) == 5 and len(markers(other_sims)) == 4, 40, "both tenants synced"
        )
    finally:
        running.stop()
    # every contato in each Bling came from that company's own Auvo, created once
    assert {m.removeprefix("AUVO-") for m in markers(sims)} == auvo_ids(sims)
    assert {m.removeprefix("AUVO-") for m in markers(other_sims)} == auvo_ids(other_sims)
    assert (contact_posts(sims), contact_posts(other_sims)) == (5, 4)
    # both Auvo accounts number their customers alike: only per-tenant id maps keep them apart
    assert auvo_ids(sims) & auvo_ids(other_sims)
    # id maps, tokens and queues are per tenant
    store = deployment.store
    assert {p.auvo_id for p in store.id_pairs("default", "customer")} == auvo_ids(sims)
    assert {p.auvo_id for p in store.id_pairs(OTHER, "customer")} == auvo_ids(other_sims)
    own_token, other_token = mine.vault.load(PROVIDER), theirs.vault.load(PROVIDER)
    assert own_token is not None and other_token is not None
    assert own_token.access_token != other_token.access_token
    assert (
        mine.topology.work_queue(TO_BLING_CONTACTS).name != theirs.topology.work_queue(TO_BLING_CONTACTS).name
    )
    assert mine.topology.dlq.name != theirs.topology.dlq.name


def test_an_event_of_another_tenant_is_refused_not_written(
    deployment: Deployment, other_sims: Simulators, amqp_url: str
) -> None:
    mine, theirs = deployment.app("default"), deployment.app(OTHER)
    for app in deployment.apps:
        app.declare_topology()
    # a misconfigured producer of tenant "default" publishes onto acme's exchange
    stray = auvo_customer_changed(
        {"id": 777, "description": "Stray Ltda", "cpfCnpj": "", "email": ["stray@example.com"]},
        tenant="default",
    )
    publisher = Publisher(amqp_url, theirs.topology)
    publisher.publish(stray)
    publisher.close()
    running = start(deployment.apps, producers=False)
    try:
        wait_until(
            lambda: running.consumer_stats().get("dead_lettered", 0) == 1, 20, "the stray event refused"
        )
    finally:
        running.stop()
    assert contact_posts(other_sims) == 0  # acme's Bling never saw it
    [letter] = dlq_headers(amqp_url, theirs.topology.dlq.name)
    assert letter["x-error-class"] == "TenantMismatch"
    assert dlq_headers(amqp_url, mine.topology.dlq.name) == []


def test_a_broken_tenant_is_paused_and_the_other_goes_on(
    deployment: Deployment, sims: Simulators, other_sims: Simulators, cli: Cli, amqp_url: str
) -> None:
    seed_auvo_customers(sims.auvo, 3, rng_seed=41)
    seed_auvo_customers(other_sims.auvo, 3, rng_seed=42)
    mine = deployment.app("default")
    running: Running | None = None
    with logs_aside():
        running = start(deployment.apps, poll_interval=0.3)
        try:
            wait_until(lambda: len(markers(sims)) == 3 and len(markers(other_sims)) == 3, 40, "first sync")
            # the user removes the app in the first company's Bling, and changes arrive meanwhile
            sims.bling.revoke_authorization()
            seed_auvo_customers(sims.auvo, 6, rng_seed=43)
            wait_until(lambda: deployment.store.tenant_pause("default") is not None, 30, "tenant paused")
            pause = deployment.store.tenant_pause("default")
            assert pause is not None and pause.error_class in (
                "BlingAuthorizationRevoked",
                "BlingNotAuthorized",
            )
            # the other company keeps syncing while the first is paused
            seed_auvo_customers(other_sims.auvo, 4, rng_seed=44)
            wait_until(lambda: len(markers(other_sims)) == 7, 40, "the healthy tenant's new customers")
            rows = {row["tenant"]: row for row in cli.json("tenants", "list")}
            assert rows["default"]["state"] == "paused"
            assert rows["default"]["pause_cause"].startswith(pause.error_class)
            assert rows[OTHER]["state"] == "active"
            checked = cli("check")
            assert checked.exit_code == 1
            assert "FAIL tenant    default PAUSED since" in checked.stdout
            assert "auvo-bling tenants resume default" in checked.stdout
            status = cli.json("status")
            assert status["paused"]["error_class"] == pause.error_class
            assert cli.json("status", "--tenant", OTHER)["paused"] is None
            parked = dlq_headers(amqp_url, mine.topology.dlq.name)
            assert parked and {h["x-error-class"] for h in parked} <= {
                "TenantPaused",
                "BlingAuthorizationRevoked",
                "BlingNotAuthorized",
            }
            # fixed: authorized again, then resumed; what was parked is replayed, the rest flows
            authorize_headless(mine)
            result = cli("tenants", "resume", "default")
            assert result.exit_code == 0, result.output
            assert f"replayed {len(parked)} parked event(s)" in result.output
            wait_until(lambda: len(markers(sims)) == 9, 60, "the paused tenant's changes, after resume")
        finally:
            _stop(running)
    assert {m.removeprefix("AUVO-") for m in markers(sims)} == auvo_ids(sims)
    assert contact_posts(sims) == 9 and contact_posts(other_sims) == 7  # nothing created twice
    assert dlq_headers(amqp_url, mine.topology.dlq.name) == []


@pytest.mark.parametrize(
    "command",
    [
        ["status", "--json"],
        ["dlq", "list", "--json"],
        ["check"],
        ["backfill", "--dry-run", "--json", "--quiet"],
        ["webhooks", "list"],
        ["authorize", "--code", "x"],
        ["dlq", "replay", "--all", "--dry-run"],
    ],
)
def test_per_tenant_commands_take_tenant_and_refuse_unknown_ones(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--tenant", "nobody")
    assert result.exit_code == 2, result.output
    assert "unknown tenant 'nobody'" in result.output


def test_status_and_dlq_show_the_named_tenants_own_queues(
    deployment: Deployment, cli: Cli, bus_prefix: str
) -> None:
    for app in deployment.apps:
        app.declare_topology()
    data = cli.json("status", "--tenant", OTHER)
    names = json.dumps(data)
    assert f"{bus_prefix}{OTHER}.auvo-bling.dlq" in names
    result = cli("dlq", "list", "--tenant", OTHER)
    assert result.exit_code == 0, result.output
    assert f"{bus_prefix}{OTHER}.auvo-bling.dlq" in result.output
