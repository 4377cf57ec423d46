"""The upgrade from per-tenant queues to the shared topology (`auvo-bling bus move-to-shared`), on
the real RabbitMQ and PostgreSQL: a named tenant's events waiting in its own work queue, in its
own retry delay queue and in its own DLQ all reach the shared queues, the emptied per-tenant
queues are gone, and the shared consumers then write every one of them, once."""

from __future__ import annotations

from pathlib import Path

import pika
import pytest
import tomlkit

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.tenancy import Deployment
from auvo_bling.tenants_cli import replay_parked
from contracts.events import auvo_customer_changed
from infra.bus.publisher import Publisher
from infra.bus.topology import TO_BLING_CONTACTS
from infra.settings import Settings
from simulators.seed import seed_auvo_customers
from tests.ops_support import Cli
from tests.support import Simulators, pika_parameters, wait_until
from tests.tenant_support import contact_posts, markers, plain_values

pytestmark = pytest.mark.integration

OTHER = "acme"


def _values(
    amqp_url: str, pg_url: str, sims: Simulators, other_sims: Simulators, prefix: str, layout: str
) -> dict:
    return {
        "amqp_url": amqp_url,
        "database_url": pg_url,
        "secret_key": "test-secret-key-for-token-encryption",
        "bus": {"prefix": prefix, "topology": layout, "retry_delays_seconds": [1.0, 5.0], "max_attempts": 5},
        **sims.settings_overrides(),
        "tenants": {OTHER: other_sims.settings_overrides()},
    }


def _exists(amqp_url: str, queue: str) -> bool:
    with pika.BlockingConnection(pika_parameters(amqp_url)) as conn:
        try:
            conn.channel().queue_declare(queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return False
    return True


def test_a_named_tenants_queued_retried_and_dead_lettered_events_move_to_the_shared_topology(
    amqp_url: str, pg_url: str, sims: Simulators, other_sims: Simulators, bus_prefix: str, tmp_path: Path
) -> None:
    before = Deployment.of(Settings(**_values(amqp_url, pg_url, sims, other_sims, bus_prefix, "per_tenant")))
    acme = before.app(OTHER)
    acme.declare_topology()
    old = acme.topology
    assert old.prefix == f"{bus_prefix}{OTHER}."
    customers = seed_auvo_customers(other_sims.auvo, 5, rng_seed=71)
    events = [auvo_customer_changed(c, tenant=OTHER) for c in customers]
    publisher = Publisher(amqp_url, old)
    for event in events[:3]:  # waiting in acme's own work queue
        publisher.publish(event)
    # a retry copy waiting in acme's 5 s delay queue (3 s left on its own expiration)
    publisher.publish_raw(
        events[3].to_json(),
        exchange="",
        routing_key=old.delay_queue_name(TO_BLING_CONTACTS, 1),
        headers={"x-attempts": 1, "tenant": OTHER},
        expiration=3.0,
    )
    # parked in acme's own DLQ by an earlier pause
    publisher.publish_raw(
        events[4].to_json(),
        exchange=old.dlx,
        routing_key=events[4].type,
        headers={"x-attempts": 0, "x-consumer": "to-bling.contacts", "x-error-class": "TenantPaused"},
    )
    publisher.close()
    before.close()

    values = _values(amqp_url, pg_url, sims, other_sims, bus_prefix, "shared")
    config = tmp_path / "shared.toml"
    config.write_text(tomlkit.dumps(plain_values(values)), encoding="utf-8")
    cli = Cli(config)
    dry = cli("bus", "move-to-shared", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would move 5 message(s)" in dry.output
    result = cli("bus", "move-to-shared")
    assert result.exit_code == 0, result.output
    assert "moved 5 message(s) into the shared topology" in result.output
    assert (
        f"acme: moved 3 from {old.name('to-bling.contacts')} to {bus_prefix}to-bling.contacts"
        in result.output
    )
    assert f"to {bus_prefix}to-bling.contacts.retry.5000ms, queue deleted" in result.output
    for name in (old.name("to-bling.contacts"), old.delay_queue_name(TO_BLING_CONTACTS, 1), old.dlq.name):
        assert not _exists(amqp_url, name), name
    again = cli("bus", "move-to-shared")  # nothing left: a second run moves nothing
    assert again.exit_code == 0 and "moved 0 message(s)" in again.output

    after = Deployment.of(Settings(**values))
    try:
        for app in after.apps:
            authorize_headless(app)
        running = start(after.apps, producers=False)
        try:
            # the parked one, replayed from acme's view of the shared DLQ
            assert replay_parked(after.app(OTHER)) == (1, 0)
            wait_until(lambda: len(markers(other_sims)) == 5, 40, "every moved event written")
        finally:
            running.stop()
    finally:
        after.close()
    assert contact_posts(other_sims) == 5 and contact_posts(sims) == 0
