"""Pruning never makes an old event look new in a way that writes twice (RabbitMQ, PostgreSQL).

Events are handled, their processed-event rows pruned (the retention has passed, by the clock
given to `prune`), and the very same events are published again, as `dlq replay` or a re-poll
after a lost cursor would: the consumers must not create anything again, nor write at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from contracts.envelope import Envelope
from infra.bus.publisher import Publisher
from infra.store.retention import prune
from simulators.seed import seed_auvo_customers
from tests.support import Clock, Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def app_factory(
    amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str
) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        bus = {"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix}
        app = App(
            build_settings(
                amqp_url, pg_url, sims, bus=bus, customers={"direction": "auvo_to_bling"}, **overrides
            )
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


class Recording:
    """The real publisher, keeping a copy of every envelope it published (to replay them later)."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.publisher.publish(envelope)
        self.published.append(envelope)

    def publish_batch(self, envelopes: Sequence[Envelope]) -> None:
        self.publisher.publish_batch(envelopes)
        self.published.extend(envelopes)


def contact_writes(sims: Simulators) -> dict[str, int]:
    with sims.bling.lock:
        out: dict[str, int] = {}
        for (method, resource), n in sims.bling.writes.items():
            if "contatos" in resource:
                out[method] = out.get(method, 0) + n
        return out


def markers(sims: Simulators) -> list[str]:
    with sims.bling.lock:
        return sorted(str(c.get("codigo")) for c in sims.bling.contacts.values())


def test_replayed_events_whose_processed_rows_were_pruned_write_nothing(
    app_factory: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    customers = seed_auvo_customers(sims.auvo, 4, rng_seed=21)
    app = app_factory()
    authorize_headless(app)
    app.declare_topology()
    recording = Recording(app.publisher())
    [poller] = app.pollers(recording)
    assert poller.poll_once() == 4
    first = list(recording.published)

    running = start(app, producers=False)
    try:
        wait_until(lambda: running.consumer_stats().get("created", 0) == 4, 30, "4 contatos created")
        # one customer changes later: its first event is now older than what was applied
        clock.tick()
        sims.auvo.update_customer(customers[0]["id"], description="Padaria Renomeada Depois Ltda")
        assert poller.poll_once() == 1
        wait_until(lambda: running.consumer_stats().get("updated", 0) == 1, 30, "the change written")
        writes_before = contact_writes(sims)
        assert writes_before == {"POST": 4, "PUT": 1}
        assert app.store.count_processed(app.tenant) == 5

        report = prune(app.store, retention_days=30, now=datetime.now(UTC) + timedelta(days=31))
        assert report.removed["processed_events"] == 5
        assert app.store.count_processed(app.tenant) == 0  # every event now looks never seen

        replayer = app.publisher()
        replayer.publish_batch(first)  # all four first events again, ids and bodies unchanged
        wait_until(lambda: sum(running.consumer_stats().values()) >= 9, 30, "the replays handled")
    finally:
        running.stop()

    stats = running.consumer_stats()
    assert stats.get("skipped_duplicate", 0) == 0  # the cheap guard really was gone
    assert stats["skipped_stale"] == 1  # the changed customer's old event: older than applied
    assert stats["skipped_echo"] == 3  # the others: the state we already wrote (its fingerprint)
    assert stats["created"] == 4 and stats["updated"] == 1  # nothing new from the replays
    assert contact_writes(sims) == writes_before  # no second create, no write at all
    assert markers(sims) == sorted(f"AUVO-{c['id']}" for c in customers)
    assert app.store.count_processed(app.tenant) == 4  # the replays are recorded again


def test_the_producer_starts_one_pruner_that_stops_with_it(
    app_factory: Callable[..., App], sims: Simulators
) -> None:
    app = app_factory()
    authorize_headless(app)
    running = start(app, consumers=False, poll_interval=0.3)
    try:
        pruners = [t for t in running.threads if t.name == "store-pruner"]
        assert len(pruners) == 1 and pruners[0].is_alive()
    finally:
        running.stop()
    assert not pruners[0].is_alive()
