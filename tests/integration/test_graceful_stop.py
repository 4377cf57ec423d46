"""Stopping a consumer does not wait for its whole prefetch to be handled, and loses nothing."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from contracts.envelope import Envelope
from contracts.events import auvo_customer_changed
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker
from infra.bus.topology import TO_BLING_CONTACTS, Topology
from tests.support import wait_until

pytestmark = pytest.mark.integration


def test_stop_returns_after_the_message_in_hand_and_the_rest_go_to_the_next_consumer(
    amqp_url: str, bus_prefix: str
) -> None:
    topology = Topology(prefix=bus_prefix)
    publisher = Publisher(amqp_url, topology)
    handled: Counter[str] = Counter()
    lock = threading.Lock()

    def slow_handler(envelope: Envelope) -> str:  # a Bling write at 3 req/s takes about this long
        time.sleep(0.4)
        with lock:
            handled[envelope.event_id] += 1
        return "created"

    try:
        from kombu import Connection

        with Connection(amqp_url) as conn:
            topology.declare(conn, (TO_BLING_CONTACTS,))
        events = [
            auvo_customer_changed({"id": i, "description": f"Cliente {i}", "email": []}) for i in range(1, 21)
        ]
        publisher.publish_batch(events)

        first = QueueWorker(amqp_url, topology, {TO_BLING_CONTACTS: slow_handler}, publisher, prefetch=20)
        thread = threading.Thread(target=first.run, daemon=True)
        thread.start()
        wait_until(lambda: sum(handled.values()) >= 2, 20, "the first worker to handle a couple")
        asked = time.monotonic()
        first.stop()
        thread.join(15)
        stopped_in = time.monotonic() - asked
        assert not thread.is_alive()
        # the message in hand (0.4 s) plus kombu's 1 s drain tick, not 18 more messages x 0.4 s
        assert stopped_in < 3.0, f"stop took {stopped_in:.1f}s"
        by_first = sum(handled.values())
        assert by_first < 20

        second = QueueWorker(amqp_url, topology, {TO_BLING_CONTACTS: slow_handler}, publisher, prefetch=20)
        thread = threading.Thread(target=second.run, daemon=True)
        thread.start()
        wait_until(lambda: len(handled) == 20, 30, "every event handled")
        second.stop()
        thread.join(15)
    finally:
        publisher.close()
    assert set(handled) == {e.event_id for e in events}
    assert max(handled.values()) == 1  # nothing handled twice: the unhandled were never acked
