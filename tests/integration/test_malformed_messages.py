"""Malformed messages on the real RabbitMQ: each lands in the DLQ once, with a diagnosis, and the
consumer goes on (no crash loop, no requeue storm). The generated cases are in tests/fuzz; these are
the shapes they found or that a person publishing by hand makes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from auvo_bling.wiring import App
from contracts.envelope import Envelope
from contracts.events import PAYLOAD_MODELS, parse_payload
from infra.bus.dlq import DlqSession
from infra.bus.runner import ATTEMPTS, QueueWorker
from infra.bus.topology import TO_BLING_CONTACTS
from tests.ops_support import logs_aside, wait_until
from tests.support import Simulators, build_settings

pytestmark = pytest.mark.integration

VALID = {
    "event_id": "malformed-valid-1",
    "type": TO_BLING_CONTACTS.event_type,
    "occurred_at": "2025-05-01T12:00:00+00:00",
    "source": "test",
    "entity_id": "1",
    "entity_version": "1",
    "payload": {"customer": {"id": 1}},
}
MALFORMED: list[tuple[bytes, dict[str, Any]]] = [
    (b"not json at all", {}),
    (b"\xff\xfe\x00garbage", {}),
    (b"[" * 50_000 + b"]" * 50_000, {}),  # nested past the recursion limit
    (json.dumps({**VALID, "event_id": "malformed-extra", "unknown": 1}).encode(), {}),
    (
        json.dumps({**VALID, "event_id": "malformed-payload", "payload": {"customer": {"id": "x"}}}).encode(),
        {},
    ),
    (
        json.dumps({**VALID, "event_id": "malformed-attempts"}).encode(),
        {ATTEMPTS: "abc", "authorization": "Bearer t0k"},
    ),
]


@pytest.fixture
def app(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[App]:
    application = App(build_settings(amqp_url, pg_url, sims, bus={"prefix": bus_prefix, "max_attempts": 3}))
    application.declare_topology()
    yield application
    application.close()


def test_malformed_messages_are_dead_lettered_once_with_a_diagnosis(app: App) -> None:
    publisher = app.publisher()
    queue = app.topology.name(TO_BLING_CONTACTS.name)
    model = PAYLOAD_MODELS[TO_BLING_CONTACTS.event_type]
    handled: list[str] = []

    def handle(envelope: Envelope) -> str:
        parse_payload(envelope, model)
        handled.append(envelope.event_id)
        return "handled"

    for body, headers in MALFORMED:
        publisher.publish_raw(body, exchange="", routing_key=queue, headers=headers)
    good = "malformed-then-good"
    publisher.publish_raw(json.dumps({**VALID, "event_id": good}).encode(), exchange="", routing_key=queue)
    worker = QueueWorker(app.settings.amqp_url, app.topology, {TO_BLING_CONTACTS: handle}, publisher)
    with logs_aside():
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: good in handled, 30, "the good message after the malformed ones")
            wait_until(lambda: worker.stats["dead_lettered"] >= len(MALFORMED) - 1, 30, "the dead letters")
        finally:
            worker.stop()
            thread.join(10)
    with DlqSession(app.settings.amqp_url, app.topology) as session:
        letters = [h.letter for h in session.scan()]
    # the message with only a bad x-attempts header is a valid event: handled, not dead-lettered
    assert "malformed-attempts" in handled
    assert len(letters) == len(MALFORMED) - 1
    assert {letter.error_class for letter in letters} == {"ContractViolation"}
    assert all(letter.error_message and letter.consumer == TO_BLING_CONTACTS.name for letter in letters)
    assert sorted(letter.body for letter in letters) == sorted(body for body, _ in MALFORMED[:-1])
    assert worker.stats["crashed"] == 0 and worker.stats["retried"] == 0
