"""The database pool: sized from the threads a process runs; running out is a wait, not a failure."""

from __future__ import annotations

import threading

import pytest
from kombu import Connection

from auvo_bling.authorize import authorize_headless
from auvo_bling.tenancy import POOL_MARGIN, Deployment, pool_size_for
from contracts.envelope import Envelope
from contracts.events import auvo_customer_changed
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker, RetryPolicy
from infra.bus.topology import TO_BLING_CONTACTS, Topology
from infra.store import Store
from tests.support import Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration


def test_pool_exhaustion_is_retried_without_spending_attempts(
    amqp_url: str, bus_prefix: str, pg_url: str
) -> None:
    """Every connection held elsewhere for longer than the pool timeout: the handler's store call
    raises sqlalchemy's TimeoutError. That is waiting for the other handlers, like EntityBusy:
    five of them in a row do not dead-letter an event whose max_attempts is 2."""
    store = Store(pg_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    topology = Topology(prefix=bus_prefix, retry_delays=[0.2])
    publisher = Publisher(amqp_url, topology)
    held = store.engine.connect()  # the one connection, taken by "another handler"
    calls: list[int] = []

    def handler(envelope: Envelope) -> str:
        calls.append(1)
        if len(calls) == 6:
            held.close()  # the other handler is done
        store.ping()
        return "created"

    with Connection(amqp_url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    worker = QueueWorker(
        amqp_url,
        topology,
        {TO_BLING_CONTACTS: handler},
        publisher,
        policy=RetryPolicy(delays=[0.2], max_attempts=2, jitter=0.0),
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        publisher.publish(auvo_customer_changed({"id": 1, "description": "C1", "email": []}))
        wait_until(lambda: worker.stats["created"] + worker.stats["dead_lettered"] == 1, 30, "an outcome")
    finally:
        worker.stop()
        thread.join(10)
        publisher.close()
        held.close()
        store.dispose()
    assert (len(calls), worker.stats["retried"], worker.stats["dead_lettered"]) == (6, 5, 0)
    assert worker.stats["created"] == 1


def test_the_pool_is_sized_from_the_threads_served(pg_url: str, amqp_url: str, sims: Simulators) -> None:
    settings = build_settings(amqp_url, pg_url, sims)
    deployment = Deployment.of(settings, worker_threads=8, producers=False)
    try:
        authorize_headless(deployment.apps[0])  # the store works
        pool = deployment.store.engine.pool
        assert pool.size() == pool_size_for(1, 8, consumers=True, producers=False) == 2 * 8 + POOL_MARGIN  # type: ignore[attr-defined]
    finally:
        deployment.close()
    assert pool_size_for(3, 4, consumers=True, producers=True) == 3 * (2 * 4 + 5) + POOL_MARGIN
    assert pool_size_for(2, 4, consumers=False, producers=True) == 2 * 5 + POOL_MARGIN
