"""The store's round trips per handled event stay within budget (issue 20: at most 4 on the
common path), on SQLite and PostgreSQL, counted by the listener of infra/store/round_trips.py:
transactions, not time, so the test says the same on a loaded machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.consumer_cpu import InMemoryBling, events
from consumers.base import CREATED, DUPLICATE, STALE, UPDATED, HandlerBase, Outcome
from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from consumers.sales.catalog import BlingCatalog
from consumers.sales.documents import DELETED_IN_BLING
from consumers.sales.task_writer import AuvoTaskToBlingOrder
from contracts.envelope import Envelope
from contracts.events import auvo_task_status_reached
from infra.egress import BlingEgress
from infra.ratelimit import SharedThrottle
from infra.settings import EgressSettings
from infra.store import DailyCharge, Store, WindowClaim, WindowsFull
from infra.store.round_trips import counted

BUDGET = 4


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'trips.sqlite3'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    store = Store(url)
    yield store
    store.dispose()


def test_a_contato_created_then_updated_costs_at_most_four_transactions(store: Store) -> None:
    bling = InMemoryBling()
    handler = AuvoCustomerToBlingContact(store, bling)
    created, updated = events(1)[0], events(1, version="2026-11-29T11:00:00")[0]

    with counted(store.engine) as trips:
        assert handler(created) == CREATED
    assert trips.total_transactions <= BUDGET, trips.breakdown()

    with counted(store.engine) as trips:
        assert handler(updated) == UPDATED
    assert trips.total_transactions <= BUDGET - 1, trips.breakdown()  # no write intent to note
    (contact,) = bling.contacts.values()
    assert contact["nome"].endswith(" ME")

    # the state read trusted for the event is still right: a redelivery and an older event do nothing
    with counted(store.engine) as trips:
        assert handler(updated) == DUPLICATE
        assert handler(events(1, version="2026-11-29T09:00:00")[0]) == STALE
    assert trips.total_transactions <= 2 * (BUDGET - 1), trips.breakdown()
    assert len(bling.contacts) == 1
    counters = store.counters("default")
    assert counters[f"{handler.consumer}.created"] == 1 and counters[f"{handler.consumer}.updated"] == 1


def test_the_lease_released_with_the_commit_is_free_for_the_next_writer(store: Store) -> None:
    handler = AuvoCustomerToBlingContact(store, InMemoryBling(), lock_wait_seconds=0.0)
    envelope = events(1)[0]
    handler(envelope)
    with store.lock(handler.lock_key(envelope), "another:1:1", wait_seconds=0.0) as hold:
        assert hold


def test_a_throttled_bling_request_takes_slot_charge_and_ip_windows_in_one_transaction(store: Store) -> None:
    egress = BlingEgress(store, EgressSettings(group="trips", bling_requests_per_10s=2))
    throttle = SharedThrottle(store, "bling:t", per_second=1000.0, egress=egress)
    charge = DailyCharge("t", "2026-12-02", 100)
    with counted(store.engine) as trips:
        throttle._reserve(charge)
    assert trips.total_transactions == 1, trips.breakdown()
    assert store.daily_calls("t", "2026-12-02") == 1
    assert store.window_hits(egress.requests.name, 10, time.time()) == 1

    # the window full: neither the slot nor the day's charge is taken (the transaction rolled back)
    throttle._reserve(charge)
    claim = WindowClaim(egress.gate.group, egress.request_checks, time.time())
    with pytest.raises(WindowsFull):
        store.reserve_slot("bling:t", 0.001, 1, daily=charge, windows=claim)
    assert store.daily_calls("t", "2026-12-02") == 2
    assert store.window_hits(egress.requests.name, 10, time.time()) == 2


def test_the_event_state_answers_only_its_own_handler(store: Store) -> None:
    """A pedido's handler calls the contato writer: a customer sharing the task's number must be
    read from the store, not answered from the task's state."""
    contacts = AuvoCustomerToBlingContact(store, InMemoryBling())
    seen: list[object] = []

    class TaskLike(HandlerBase):
        consumer = "tasks-like"

        def apply(self, envelope: Envelope) -> Outcome:
            seen.append(self.known_state(envelope.tenant, envelope.entity_id))
            seen.append(contacts.known_state(envelope.tenant, envelope.entity_id))
            return Outcome("done")

    TaskLike(store)(events(1)[0])
    assert seen[0] is not None and seen[1] is None


class _NoAuvo:
    """The customer's contato is linked: reading the Auvo customer would be a bug."""

    def get_customer(self, customer_id: int | str) -> dict[str, object]:
        raise AssertionError(f"Auvo customer {customer_id} read although its contato is linked")


def _task(version: str, quantity: float) -> Envelope:
    """A finished task of customer 9001 with two products (both linked) and one service (linked)."""
    line = {"quantity": quantity, "unitaryValue": 35.9, "discount": {"value": 0.0, "type": "Valor"}}
    return auvo_task_status_reached(
        {
            "taskID": 880_001,
            "customerId": 9001,
            "finished": True,
            "taskDate": "2026-11-29T09:00:00",
            "dateLastUpdate": version,
            "products": [
                {"productId": "p-filtro", "code": "FA-01", "name": "Filtro de ar", **line},
                {"productId": "p-gas", "code": "GR-02", "name": "Gás R410", **line},
            ],
            "services": [{"id": "s-limpeza", "name": "Higienização", "quantity": 1, "unitaryValue": 150.0}],
        },
        "finished_manually",
    )


def test_a_pedido_created_then_updated_costs_at_most_four_transactions(store: Store) -> None:
    """The task's pedido for a customer whose contato and produtos are linked: the job's state
    (deletion mark, link, fingerprint, intent, the contato's and produtos' links) is one read."""
    bling = InMemoryBling()
    with store.transaction() as conn:
        store.link(conn, "default", "customer", "9001", "16000000777")
        for kind, auvo_id, bling_id in [
            ("product", "p-filtro", "501"),
            ("product", "p-gas", "502"),
            ("service", "s-limpeza", "503"),
        ]:
            store.link(conn, "default", kind, auvo_id, bling_id)
    contacts = AuvoCustomerToBlingContact(store, bling)
    handler = AuvoTaskToBlingOrder(store, bling, _NoAuvo(), contacts, BlingCatalog(store, bling))  # type: ignore[arg-type]
    created, updated = _task("2026-11-29T10:00:00", 2.0), _task("2026-11-29T11:00:00", 3.0)

    with counted(store.engine) as trips:
        assert handler(created) == CREATED
    assert trips.total_transactions <= BUDGET, trips.breakdown()
    (order_id,) = bling.sales_orders
    order = bling.sales_orders[order_id]
    assert order["contato"]["id"] == 16000000777
    assert [item["produto"]["id"] for item in order["itens"]] == [501, 502, 503]

    with counted(store.engine) as trips:
        assert handler(updated) == UPDATED
    assert trips.total_transactions <= BUDGET - 1, trips.breakdown()  # no write intent to note
    assert list(bling.sales_orders) == [order_id]
    assert bling.sales_orders[order_id]["itens"][0]["quantidade"] == 3.0

    with counted(store.engine) as trips:
        assert handler(updated) == DUPLICATE
    assert trips.total_transactions <= BUDGET - 1, trips.breakdown()
    assert store.bling_id_for("default", "task", "880001") == str(order_id)
    assert not store.intent_noted_at("default", "bling.pedido", "task:880001")

    # the trusted state still says what the store says: a deletion noticed in Bling stops the next change
    store.note_deleted_in_bling("default", "task", "880001", str(order_id), via="webhook")
    assert handler(_task("2026-11-29T12:00:00", 4.0)) == DELETED_IN_BLING
    assert bling.sales_orders[order_id]["itens"][0]["quantidade"] == 3.0
