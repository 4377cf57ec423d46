"""Generated messages off the bus, through the runner's own handling of one delivery (no broker).

The rule for every input: `QueueWorker.process` returns (a raise is a crash: the message is rejected,
redelivered and crashes again until the delivery limit), the message is acked exactly once and never
rejected, and a message whose envelope or payload is malformed goes to the DLQ once with a diagnosis
(ContractViolation and a message), never to a retry (a retry of a body that cannot change is a storm).
Nothing that looks like a credential reaches the dead letter's headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.envelope import Envelope, MalformedMessage
from contracts.events import (
    PAYLOAD_MODELS,
    auvo_customer_changed,
    auvo_task_status_reached,
    bling_contact_changed,
    parse_payload,
)
from infra.bus.runner import ATTEMPTS, QueueWorker
from infra.bus.topology import (
    ALL_WORK_QUEUES,
    TO_AUVO_CUSTOMERS,
    TO_BLING_CONTACTS,
    TO_BLING_ORDERS,
    Topology,
)
from tests.fuzz.strategies import json_any, mutated, wire_forms
from tests.fuzz.support import CRASHES, INPUTS, LogLines, fuzz_settings
from tests.fuzz.world import CUSTOMER, TASK

FORMS = 5
EXAMPLES = 10_000 // FORMS
TOKEN = "Bearer fuzz-access-token-0123456789abcdef"
CONTACT = {"id": 16_000_000_001, "nome": "Padaria Pão Quente", "numeroDocumento": "11222333000181"}
SEEN = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
TEMPLATES = [
    envelope.model_copy(update={"occurred_at": SEEN})  # the same inputs in every run
    for envelope in (
        auvo_customer_changed(CUSTOMER),
        bling_contact_changed(CONTACT, observed_at=SEEN, content_version="c1"),
        auvo_task_status_reached(TASK, "finished"),
    )
]
QUEUES = [TO_BLING_CONTACTS, TO_AUVO_CUSTOMERS, TO_BLING_ORDERS]


class Published:
    def __init__(self) -> None:
        self.raw: list[dict[str, Any]] = []

    def publish_raw(self, body: bytes | str, **kwargs: Any) -> None:
        self.raw.append({"body": body, **kwargs})


class HeldRetries:
    """The runner's in-process delay, kept instead of timed: a retry is an outcome to look at."""

    def __init__(self) -> None:
        self.scheduled: list[float] = []

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        self.scheduled.append(delay)


class Delivery:
    """One delivery as kombu hands it to the runner: body, headers, and what the runner did with it."""

    def __init__(self, body: bytes, headers: dict[str, Any] | None, routing_key: str) -> None:
        self.body = body
        self.headers = headers
        self.delivery_info = {"routing_key": routing_key, "exchange": "auvo-bling.events"}
        self.content_type = "application/json"
        self.acks = 0
        self.rejects = 0

    @property
    def acknowledged(self) -> bool:
        return self.acks > 0

    def ack(self) -> None:
        self.acks += 1

    def reject(self, requeue: bool = False) -> None:
        self.rejects += 1


def handler_for(event_type: str) -> Callable[[Envelope], str]:
    """What a consumer does first with an envelope: read its payload as its type's model."""
    model = PAYLOAD_MODELS[event_type]

    def handle(envelope: Envelope) -> str:
        parse_payload(envelope, model)
        return "handled"

    return handle


def recording_worker() -> tuple[QueueWorker, Published, HeldRetries]:
    """A runner for every work queue, on no broker: what it publishes and retries is kept."""
    published, held = Published(), HeldRetries()
    queue_worker = QueueWorker(
        "memory://",
        Topology(prefix="fuzz-"),
        {wq: handler_for(wq.event_type) for wq in ALL_WORK_QUEUES},
        published,  # type: ignore[arg-type]
        in_process_delay=held,  # type: ignore[arg-type]
    )
    return queue_worker, published, held


@pytest.fixture(scope="module")
def worker(log_lines: LogLines) -> tuple[QueueWorker, Published, HeldRetries, LogLines]:
    return (*recording_worker(), log_lines)


@st.composite
def envelope_value(draw: st.DrawFn) -> Any:
    template = draw(st.sampled_from(TEMPLATES)).model_dump(mode="json")
    payload = template["payload"]
    inner = next(iter(payload))
    if draw(st.booleans()) and isinstance(payload[inner], dict):
        payload = {**payload, inner: draw(mutated(payload[inner]))}
    elif draw(st.booleans()):
        payload = draw(mutated(payload) | json_any)
    value = {**template, "payload": payload}
    value["schema_version"] = draw(st.sampled_from([1] * 6 + [0, 2, -1, "1", True, 10**30, 1.5, None]))
    value["occurred_at"] = draw(st.sampled_from([value["occurred_at"]] * 4 + ["", "ontem", 0]) | json_any)
    if draw(st.booleans()):
        value = draw(mutated(value))
    return value if draw(st.integers(0, 9)) else draw(json_any)


HEADER_VALUES = st.one_of(
    st.sampled_from([0, 1, 3, 10**30, -1, "2", "abc", "", None, 1.5, True, [1], {"a": 1}, b"\xff"]), json_any
)
HEADERS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            ATTEMPTS: HEADER_VALUES,
            "x-busy-retries": HEADER_VALUES,
            "x-first-failure-at": HEADER_VALUES,
            "authorization": st.just(TOKEN),
            "x-api-token": st.just(TOKEN),
            "x-note": st.just(f"sent with {TOKEN}"),
            "x-death": st.just([{"count": 1}]),
        },
    ),
)


def check_delivery(
    delivery: Delivery, published: Published, held: HeldRetries, logged: str, malformed: bool
) -> None:
    INPUTS["bus envelope"] += 1
    try:
        assert delivery.acks == 1 and delivery.rejects == 0, (delivery.acks, delivery.rejects)
        if malformed:
            assert held.scheduled == [], "a malformed message was retried"
            [letter] = published.raw
            headers = letter["headers"]
            assert headers["x-error-class"] == "ContractViolation" and headers["x-error-message"]
            assert letter["body"] == delivery.body, "the dead letter lost the original body"
            assert "fuzz-access-token" not in repr(headers)
        assert "fuzz-access-token" not in logged
    except AssertionError:
        CRASHES["bus envelope"] += 1
        raise


def is_malformed(body: bytes, event_type: str) -> bool:
    """What the runner must find malformed: the envelope, or the payload for its queue's type."""
    try:
        parse_payload(Envelope.from_json(body), PAYLOAD_MODELS[event_type])
    except MalformedMessage:
        return True
    return False


@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_runner_decodes_or_dead_letters(
    worker: tuple[QueueWorker, Published, HeldRetries, LogLines], data: st.DataObject
) -> None:
    queue_worker, published, held, logs = worker
    forms = data.draw(envelope_value().flatmap(lambda v: wire_forms(v, FORMS)), label="bodies")
    wq = data.draw(st.sampled_from(QUEUES), label="queue")
    for body in forms:
        headers = data.draw(HEADERS)
        delivery = Delivery(body, headers, wq.event_type)
        published.raw.clear()
        held.scheduled.clear()
        queue_worker.process(wq, delivery)  # type: ignore[arg-type]
        check_delivery(delivery, published, held, logs.take(), is_malformed(body, wq.event_type))


def test_envelope_json_round_trip_holds_for_generated_envelopes() -> None:
    """The templates are real envelopes: what the fuzz mutates starts from what producers send."""
    for envelope in TEMPLATES:
        assert Envelope.from_json(envelope.to_json()) == envelope
        assert json.loads(envelope.to_json())["payload"]
