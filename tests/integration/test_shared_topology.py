"""The shared topology (`bus.topology = "shared"`), on the real RabbitMQ and PostgreSQL: one fixed
set of queues and one bounded pool of consumer threads for every tenant, each event handled with
its own tenant's accounts, the bulk queues taking a first poll, a pause parking only its tenant's
events, and each tenant's view of the one DLQ showing only its own letters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import Running, start
from auvo_bling.shared_consumers import SharedConsumers
from auvo_bling.tenancy import Deployment
from contracts.events import auvo_customer_changed
from infra.bus.dlq import DlqSession, collect
from infra.bus.publisher import Publisher
from infra.bus.topology import Topology
from infra.settings import Settings
from simulators.seed import seed_auvo_customers
from tests.ops_support import Cli, logs_aside
from tests.support import Simulators, wait_until
from tests.tenant_support import auvo_ids, contact_posts, dlq_headers, markers, plain_values

pytestmark = pytest.mark.integration

OTHER = "acme"
POLL = {"interval_seconds": 0.3, "max_interval_seconds": 1.0, "overlap_seconds": 5}


@pytest.fixture
def values(amqp_url: str, pg_url: str, sims: Simulators, other_sims: Simulators, bus_prefix: str) -> dict:
    return {
        "amqp_url": amqp_url,
        "database_url": pg_url,
        "secret_key": "test-secret-key-for-token-encryption",
        "bus": {
            "prefix": bus_prefix,
            "topology": "shared",
            "bulk_batch_min": 5,
            "live_worker_threads": 3,
            "poll_threads": 4,
            "retry_delays_seconds": [0.3, 0.6, 1.0],
            "max_attempts": 5,
        },
        "poll": POLL,
        **sims.settings_overrides(),
        "tenants": {OTHER: {"poll": POLL, **other_sims.settings_overrides()}},
    }


@pytest.fixture
def deployment(values: dict) -> Iterator[Deployment]:
    deployment = Deployment.of(Settings(**values), worker_threads=2)
    for app in deployment.apps:
        authorize_headless(app)
    yield deployment
    deployment.close()


@pytest.fixture
def cli(values: dict, tmp_path: Path) -> Cli:
    path = tmp_path / "shared.toml"
    path.write_text(tomlkit.dumps(plain_values(values)), encoding="utf-8")
    return Cli(path)


def pool_of(running: Running) -> SharedConsumers:
    [pool] = running.consumers
    assert isinstance(pool, SharedConsumers)
    return pool


def handled_by(running: Running, kind: str) -> int:
    """Events the pool's `live` or `bulk` threads handled."""
    pool = pool_of(running)
    return sum(
        sum(worker.stats[k] for k in ("created", "updated", "linked", "unchanged"))
        for worker, thread in pool.current
        if thread.name.startswith(f"consumer-{kind}-")
    )


def test_the_queues_are_the_same_for_two_tenants_and_for_fifty(values: dict) -> None:
    two = Settings(**values)
    fifty = Settings(**{**values, "tenants": {f"t{i:02d}": {"poll": POLL} for i in range(49)}})
    names = {_queue_names(two.for_tenant(t)) for t in two.tenant_names()}
    many = {_queue_names(fifty.for_tenant(t)) for t in fifty.tenant_names()}
    assert len(names) == 1 and names == many  # every tenant of either deployment: one set
    [queues] = names
    # 7 flows x (live + bulk) x (work queue + 3 delay queues) + the DLQ
    assert len(queues) == 7 * 2 * 4 + 1
    assert not any(OTHER in name for name in queues)


def test_each_tenant_is_served_through_the_shared_queues_by_one_pool(
    deployment: Deployment, sims: Simulators, other_sims: Simulators
) -> None:
    seed_auvo_customers(sims.auvo, 3, rng_seed=51)
    seed_auvo_customers(other_sims.auvo, 12, rng_seed=52)  # a first poll of 12 >= bulk_batch_min
    # an earlier test's threads may still be ending (their join timed out): count only this one's
    earlier = set(threading.enumerate())
    running = start(deployment.apps, poll_interval=0.3, worker_threads=2)
    try:
        wait_until(
            lambda: len(markers(sims)) == 3 and len(markers(other_sims)) == 12, 40, "both tenants synced"
        )
        pool = pool_of(running)
        # 3 live threads and 1 bulk thread, whatever the number of tenants
        assert sorted(t.name for _, t in pool.current) == [
            "consumer-bulk-0",
            "consumer-live-0",
            "consumer-live-1",
            "consumer-live-2",
        ]
        # both tenants' pollers on the scheduler's threads: no thread of its own per tenant or poller
        names = {t.name for t in threading.enumerate() if t not in earlier}
        assert {n for n in names if n.startswith("poller-")} == {f"poller-{i}" for i in range(4)}
        assert not any(n.startswith(("lease-default", "lease-acme", "consumer-acme")) for n in names)
        # acme's first poll went through the bulk queue, default's page of 3 through the live one
        # (counted just after the write the markers show)
        wait_until(lambda: handled_by(running, "bulk") == 12, 10, "acme's first poll, in bulk")
        wait_until(lambda: handled_by(running, "live") == 3, 10, "default's page of 3, live")
        # a live change after the first poll: one customer, through a live queue
        live_before = handled_by(running, "live")
        seed_auvo_customers(other_sims.auvo, 1, rng_seed=53)
        wait_until(lambda: len(markers(other_sims)) == 13, 30, "acme's live change")
        wait_until(lambda: handled_by(running, "live") > live_before, 10, "counted by a live thread")
    finally:
        running.stop()
    assert {m.removeprefix("AUVO-") for m in markers(sims)} == auvo_ids(sims)
    assert {m.removeprefix("AUVO-") for m in markers(other_sims)} == auvo_ids(other_sims)
    assert (contact_posts(sims), contact_posts(other_sims)) == (3, 13)  # nothing crossed, nothing twice
    store = deployment.store
    assert {p.auvo_id for p in store.id_pairs("default", "customer")} == auvo_ids(sims)
    assert {p.auvo_id for p in store.id_pairs(OTHER, "customer")} == auvo_ids(other_sims)


def test_an_event_of_a_tenant_not_served_is_refused_and_each_dlq_view_is_its_tenants(
    deployment: Deployment, sims: Simulators, other_sims: Simulators, amqp_url: str
) -> None:
    mine, theirs = deployment.app("default"), deployment.app(OTHER)
    mine.declare_topology()
    stray = auvo_customer_changed(
        {"id": 777, "description": "Stray Ltda", "cpfCnpj": "", "email": ["stray@example.com"]},
        tenant="ghost",
    )
    publisher = Publisher(amqp_url, mine.topology)
    publisher.publish(stray)
    publisher.close()
    running = start(deployment.apps, producers=False)
    try:
        wait_until(
            lambda: running.consumer_stats().get("dead_lettered", 0) == 1, 20, "the stray event refused"
        )
    finally:
        running.stop()
    assert contact_posts(sims) == contact_posts(other_sims) == 0
    [letter] = dlq_headers(amqp_url, mine.topology.dlq.name)
    assert letter["x-error-class"] == "TenantMismatch"
    # the one DLQ, seen by each tenant: the ghost's letter is neither's
    for app in (mine, theirs):
        with DlqSession(amqp_url, app.topology) as session:
            assert collect(session) == []
    with DlqSession(amqp_url, Topology.from_settings(deployment.settings.bus)) as session:
        [held] = collect(session)  # a view for every tenant (no tenant named) sees it
        assert held.letter.tenant == "ghost"


def test_a_paused_tenants_events_are_parked_and_replayed_the_others_flow(
    deployment: Deployment, sims: Simulators, other_sims: Simulators, cli: Cli, amqp_url: str
) -> None:
    seed_auvo_customers(sims.auvo, 2, rng_seed=61)
    seed_auvo_customers(other_sims.auvo, 2, rng_seed=62)
    mine, theirs = deployment.app("default"), deployment.app(OTHER)
    running: Running | None = None
    with logs_aside():
        running = start(deployment.apps, poll_interval=0.3, worker_threads=2)
        try:
            wait_until(lambda: len(markers(sims)) == 2 and len(markers(other_sims)) == 2, 40, "first sync")
            sims.bling.revoke_authorization()
            seed_auvo_customers(sims.auvo, 3, rng_seed=63)
            wait_until(lambda: deployment.store.tenant_pause("default") is not None, 30, "tenant paused")
            seed_auvo_customers(other_sims.auvo, 3, rng_seed=64)
            wait_until(lambda: len(markers(other_sims)) == 5, 40, "the healthy tenant goes on")
            parked = _letters(amqp_url, mine)
            assert parked and {letter.tenant for letter in parked} == {"default"}
            assert _letters(amqp_url, theirs) == []  # acme's view of the shared DLQ: none of them
            authorize_headless(mine)
            result = cli("tenants", "resume", "default")
            assert result.exit_code == 0, result.output
            assert f"replayed {len(parked)} parked event(s)" in result.output
            wait_until(lambda: len(markers(sims)) == 5, 60, "the paused tenant's changes, after resume")
        finally:
            if running is not None:
                running.stop()
    assert {m.removeprefix("AUVO-") for m in markers(sims)} == auvo_ids(sims)
    assert contact_posts(sims) == 5 and contact_posts(other_sims) == 5
    assert dlq_headers(amqp_url, mine.topology.dlq.name) == []


def _queue_names(settings: Settings) -> tuple[str, ...]:
    topology = Topology.from_settings(settings.bus, tenant=settings.tenant)
    return tuple(sorted(q.name for q in topology.all_queues()))


def _letters(amqp_url: str, app: Any) -> list[Any]:
    with DlqSession(amqp_url, app.topology) as session:
        return [held.letter for held in collect(session)]


def test_one_thread_sets_a_company_aside_while_its_quota_is_booked_and_serves_the_other(
    values: dict, sims: Simulators, other_sims: Simulators, amqp_url: str
) -> None:
    """One live thread for both companies; acme's Bling bucket is booked for 3 s (a 429 pause,
    its other events): acme's event goes to a delay queue instead of holding the thread, the
    default company's event, published after it, is written at once, and acme's follows when its
    quota comes back, no attempt spent."""
    values = {**values, "bus": {**values["bus"], "live_worker_threads": 1, "set_aside_after_seconds": 0.5}}
    deployment = Deployment.of(Settings(**values))
    try:
        for app in deployment.apps:
            authorize_headless(app)
        mine = deployment.app("default")
        mine.declare_topology()
        [acme_customer] = seed_auvo_customers(other_sims.auvo, 1, rng_seed=71)
        [own_customer] = seed_auvo_customers(sims.auvo, 1, rng_seed=72)
        deployment.store.hold_bucket(f"bling:{OTHER}", time.time() + 3.0)
        publisher = Publisher(amqp_url, mine.topology)
        publisher.publish(auvo_customer_changed(acme_customer, tenant=OTHER))
        publisher.publish(auvo_customer_changed(own_customer, tenant="default"))
        publisher.close()
        published = time.monotonic()
        running = start(deployment.apps, producers=False)
        try:
            wait_until(lambda: len(markers(sims)) == 1, 10, "the default company's change")
            mine_after = time.monotonic() - published
            assert not markers(other_sims)  # acme's still set aside
            wait_until(lambda: len(markers(other_sims)) == 1, 20, "acme's change once its quota is back")
            theirs_after = time.monotonic() - published
            assert running.consumer_stats().get("dead_lettered", 0) == 0
        finally:
            running.stop()
        assert mine_after < 2.5 <= theirs_after  # not behind acme's 3 s of booked quota
    finally:
        deployment.close()
