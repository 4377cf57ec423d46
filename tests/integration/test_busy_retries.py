"""Waiting for a busy entity does not spend an event's attempts (on the real RabbitMQ delay queues)."""

from __future__ import annotations

import threading

import pytest
from kombu import Connection

from contracts.envelope import Envelope
from contracts.events import auvo_customer_changed
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker, RetryPolicy
from infra.bus.topology import TO_BLING_CONTACTS, Topology
from infra.errors import ApiUnavailable, EntityBusy
from tests.support import wait_until

pytestmark = pytest.mark.integration


def test_entity_busy_is_retried_past_max_attempts_while_real_failures_are_not(
    amqp_url: str, bus_prefix: str
) -> None:
    """A consumer killed between noting a create and sending it leaves the create "in doubt" for a
    while; the next consumer waits (EntityBusy) longer than max_attempts fast retries would allow.
    A real transient failure still ends in the DLQ after max_attempts."""
    topology = Topology(prefix=bus_prefix, retry_delays=[0.2])
    publisher = Publisher(amqp_url, topology)
    calls: dict[str, int] = {}
    done: list[str] = []

    def handler(envelope: Envelope) -> str:
        n = calls[envelope.entity_id] = calls.get(envelope.entity_id, 0) + 1
        if envelope.entity_id == "1":
            if n <= 8:  # twice max_attempts
                raise EntityBusy("a create of it may still land")
            done.append(envelope.entity_id)
            return "created"
        raise ApiUnavailable("Bling answered 503")

    with Connection(amqp_url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    worker = QueueWorker(
        amqp_url,
        topology,
        {TO_BLING_CONTACTS: handler},
        publisher,
        policy=RetryPolicy(delays=[0.2], max_attempts=4, jitter=0.0),
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        for i in (1, 2):
            publisher.publish(auvo_customer_changed({"id": i, "description": f"C{i}", "email": []}))
        wait_until(lambda: done == ["1"] and worker.stats["dead_lettered"] == 1, 30, "both outcomes")
    finally:
        worker.stop()
        thread.join(10)
        publisher.close()
    assert calls == {"1": 9, "2": 4}


def test_the_daily_quota_pauses_the_tenant_and_holds_events_without_spending_attempts(
    amqp_url: str, bus_prefix: str, pg_url: str
) -> None:
    """Bling's daily limit is nobody's fault: the tenant pauses, the event is held (never
    dead-lettered, its attempts untouched) and not handled again until the pause lifts."""
    from infra.errors import DailyQuotaExhausted
    from infra.store import Store
    from infra.tenant_gate import TenantGate

    store = Store(pg_url)
    gate = TenantGate(store, "default", ttl_seconds=0)
    topology = Topology(prefix=bus_prefix, retry_delays=[0.2])
    publisher = Publisher(amqp_url, topology)
    calls: list[int] = []

    def handler(envelope: Envelope) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise DailyQuotaExhausted("daily quota: Bling answered its daily limit")
        return "created"

    with Connection(amqp_url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    worker = QueueWorker(
        amqp_url,
        topology,
        {TO_BLING_CONTACTS: handler},
        publisher,
        policy=RetryPolicy(delays=[0.2], max_attempts=2, jitter=0.0),
        gate=gate,
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        publisher.publish(auvo_customer_changed({"id": 1, "description": "C1", "email": []}))
        wait_until(lambda: worker.stats["retried"] >= 6, 30, "the event held several times")
        pause = store.tenant_pause("default")
        assert pause is not None and pause.error_class == "DailyQuotaExhausted"
        assert calls == [1]  # held while paused: the handler is not asked again
        store.resume_tenant("default")
        wait_until(lambda: worker.stats["created"] == 1, 30, "the event handled after the pause")
    finally:
        worker.stop()
        thread.join(10)
        publisher.close()
        store.dispose()
    assert worker.stats["dead_lettered"] == 0 and len(calls) == 2
