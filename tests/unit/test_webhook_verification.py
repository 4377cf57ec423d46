"""The webhook gate, without a broker: signatures, secrets, limits, replay window, and the shapes.

The receiver is driven through Starlette's TestClient with a publisher that records what it was
given, so "nothing published" is checked directly; the integration tests do the same against the
real broker with a passive declare.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from contracts.envelope import Envelope
from contracts.events import AUVO_CUSTOMER_CHANGED, auvo_customer_changed
from contracts.options import TaskStatus
from contracts.store_keys import JOB_ORDER, QUOTE_PROPOSAL
from infra.errors import NotFound
from infra.store import Store
from producers.auvo_customers import AuvoCustomerPoller
from producers.auvo_tasks import task_event
from producers.task_selection import NO_VALUES, TaskRules
from producers.webhooks.auvo_notifications import AuvoEvents, parse_auvo_notification
from producers.webhooks.bling_notifications import BlingIdMapKeeper, parse_bling_notification
from producers.webhooks.receiver import WebhookReceiver, create_webhook_app
from producers.webhooks.verification import (
    NotificationRejected,
    bling_signature,
    check_fresh,
    check_size,
    parse_notification_date,
    verify_bling_signature,
    verify_url_secret,
)

SECRET = "bling-client-secret-0123456789"
AUVO_SECRET = "auvo-url-secret-abcdefghijklmnop"
NOW = datetime(2025, 3, 10, 15, 0, 0, tzinfo=UTC)  # 12:00 in Brasília
AUVO_NOW = "2025-03-10T12:00:00"  # Auvo's naive Brasília time for NOW


class Recorder:
    """A publisher that keeps what it was given, or fails like a broker that is down."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self.down = False

    def publish(self, envelope: Envelope) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.published.append(envelope)


def customer(customer_id: int = 7_340_001, stamp: str = AUVO_NOW, **extra: Any) -> dict[str, Any]:
    record = {
        "id": customer_id,
        "externalId": "",
        "description": "Padaria Pão Quente Ltda",
        "cpfCnpj": "11.222.333/0001-81",
        "phoneNumber": ["(62) 3212-4455"],
        "email": ["compras@paoquente.com.br"],
        "note": "",
        "address": "Rua das Flores, 100",
        "adressComplement": "",
        "active": True,
        "groupsId": [],
        "dateLastUpdate": stamp,
        "creationDate": "2025-01-02T09:00:00",
    }
    return {**record, **extra}


def task(task_id: int = 9_100_001, *, valued: bool = True, **extra: Any) -> dict[str, Any]:
    line = {"productId": "p-1", "name": "Filtro", "quantity": 2, "unitaryValue": 35.9, "totalValue": 71.8}
    record: dict[str, Any] = {
        "taskID": task_id,
        "customerId": 7_340_001,
        "taskType": 11,
        "finished": True,
        "checkOut": True,
        "dateLastUpdate": AUVO_NOW,
        "products": [line] if valued else [],
        "services": [],
    }
    return {**record, **extra}


class FakeAuvo:
    def __init__(
        self, customers: dict[int, dict[str, Any]] | None = None, tasks: dict[int, Any] | None = None
    ):
        self.customers = customers or {}
        self.tasks = tasks or {}
        self.reads: list[tuple[str, Any]] = []

    def get_customer(self, customer_id: int | str) -> dict[str, Any]:
        self.reads.append(("customer", customer_id))
        if int(customer_id) not in self.customers:
            raise NotFound("gone")
        return self.customers[int(customer_id)]

    def get_task(self, task_id: int | str) -> dict[str, Any]:
        self.reads.append(("task", task_id))
        if int(task_id) not in self.tasks:
            raise NotFound("gone")
        return self.tasks[int(task_id)]

    def iter_group_clients(self, group_id: int | str) -> Any:
        return iter([{"id": 7_340_001}])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'hooks.sqlite3'}")


def notifier(entity_type: str, action: str, entities: list[dict[str, Any]], date: str = AUVO_NOW) -> dict:
    first = entities[0] if entities else {}
    return {
        "result": {
            "EntityType": entity_type,
            "Action": action,
            "EntityId": first.get("id") or first.get("taskID"),
            "UserAdminId": 1001,
            "WebhookId": 301,
            "Date": date,
            "Entities": entities,
        }
    }


def bling_body(
    event: str = "order.deleted", record_id: int = 16_000_000_001, date: str | None = None
) -> bytes:
    body = {
        "eventId": "01945a88-0000-7000-8000-000000000001",
        "date": date or NOW.isoformat().replace("+00:00", "Z"),
        "version": "v1",
        "event": event,
        "companyId": "abc",
        "data": {"id": record_id},
    }
    return json.dumps(body).encode()


@pytest.fixture
def hooks(store: Store) -> tuple[TestClient, Recorder, FakeAuvo]:
    recorder = Recorder()
    auvo = FakeAuvo()
    receiver = WebhookReceiver(
        publisher=recorder,
        store=store,
        auvo_events=AuvoEvents(auvo, TaskRules(enabled=True), customers_enabled=True),
        bling_keeper=BlingIdMapKeeper(store),
        bling_client_secret=SECRET,
        auvo_secret=AUVO_SECRET,
        max_body_bytes=4096,
        clock=lambda: NOW,
    )
    return TestClient(create_webhook_app(receiver)), recorder, auvo


# --- the pure checks ----------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"event":"order.updated","data":{"id":1}}'
    header = bling_signature(body, SECRET)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    verify_bling_signature(body, header, SECRET)
    verify_bling_signature(body, header.upper().replace("SHA256=", "sha256="), SECRET)  # hex case


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("sha256=" + "0" * 64, "bad"),
        (bling_signature(b"other body", SECRET), "bad"),
        (bling_signature(b"{}", "another-secret"), "bad"),
        ("deadbeef", "bad"),
    ],
)
def test_bad_or_missing_signature_is_401(header: str | None, reason: str) -> None:
    with pytest.raises(NotificationRejected) as caught:
        verify_bling_signature(b"{}", header, SECRET)
    assert caught.value.status == 401 and reason in caught.value.reason
    assert SECRET not in caught.value.reason


def test_url_secret_compared_exactly() -> None:
    verify_url_secret(AUVO_SECRET, AUVO_SECRET)
    for wrong in ("", AUVO_SECRET[:-1], AUVO_SECRET + "x", AUVO_SECRET.upper()):
        with pytest.raises(NotificationRejected) as caught:
            verify_url_secret(wrong, AUVO_SECRET)
        assert caught.value.status == 401
    with pytest.raises(NotificationRejected):
        verify_url_secret(AUVO_SECRET, "")  # unconfigured never accepts anything


def test_size_limit_on_declared_length() -> None:
    check_size("4096", 4096)
    check_size(None, 4096)
    with pytest.raises(NotificationRejected) as caught:
        check_size("4097", 4096)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-10T12:00:00", NOW),  # Auvo: naive Brasília
        ("2025-03-10 12:00:00", NOW),
        ("2025-03-10T15:00:00Z", NOW),  # Bling: ISO 8601 with Z
        ("2025-03-10T12:00:00-03:00", NOW),
    ],
)
def test_notification_dates(text: str, expected: datetime) -> None:
    assert parse_notification_date(text) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", 12345])
def test_notification_without_a_date_is_400(value: Any) -> None:
    with pytest.raises(NotificationRejected) as caught:
        parse_notification_date(value)
    assert caught.value.status == 400


def test_replay_window_both_ways() -> None:
    window = timedelta(hours=24)
    check_fresh(NOW - timedelta(hours=23), NOW, window)
    check_fresh(NOW + timedelta(minutes=5), NOW, window)
    for when in (NOW - timedelta(hours=25), NOW + timedelta(hours=25)):
        with pytest.raises(NotificationRejected) as caught:
            check_fresh(when, NOW, window)
        assert caught.value.status == 409


def test_notifier_shape_read_tolerantly() -> None:
    parsed = parse_auvo_notification(
        {"result": {"entitytype": "Cliente", "ACTION": "Alteracao", "entityId": 5, "date": AUVO_NOW}}
    )
    assert parsed.stream == "auvo.customers" and parsed.entity_id == "5" and parsed.entities == []
    assert parse_auvo_notification(notifier("Tarefas", "Inclusao", [task()])).stream == "auvo.tasks"
    assert parse_auvo_notification(notifier("Usuarios", "Inclusao", [{"id": 1}])).stream is None
    with pytest.raises(NotificationRejected):
        parse_auvo_notification({"result": {"Action": "Inclusao"}})


def test_bling_shape_read_tolerantly() -> None:
    parsed = parse_bling_notification(json.loads(bling_body("Order.Updated", 42)))
    assert (parsed.resource, parsed.action, parsed.record_id) == ("order", "updated", "42")
    for bad in ({"event": "order.deleted"}, {"event": "nothing", "data": {"id": 1}}, {"data": {"id": 1}}):
        with pytest.raises(NotificationRejected):
            parse_bling_notification(bad)


# --- notifications -> the pollers' events -----------------------------------------------------------


def test_complete_customer_entity_gives_the_pollers_event_without_a_read() -> None:
    auvo = FakeAuvo()
    events = AuvoEvents(auvo, TaskRules(), customers_enabled=True).events(
        parse_auvo_notification(notifier("Cliente", "Alteracao", [customer()]))
    )
    assert [e.event_id for e in events] == [auvo_customer_changed(customer()).event_id]
    assert auvo.reads == []


def test_partial_customer_entity_is_read_again_and_matches_the_poller(store: Store) -> None:
    current = customer(stamp="2025-03-10T12:00:05")
    auvo = FakeAuvo(customers={current["id"]: current})
    partial = {"id": current["id"], "description": "Padaria"}
    events = AuvoEvents(auvo, TaskRules(), customers_enabled=True).events(
        parse_auvo_notification(notifier("Cliente", "Alteracao", [partial]))
    )
    assert auvo.reads == [("customer", current["id"])]

    class Source:
        def iter_customers(self, param_filter: Any = None) -> Any:
            return iter([current])

    polled = Recorder()
    AuvoCustomerPoller(Source(), polled, store).poll_once()
    assert [e.event_id for e in events] == [e.event_id for e in polled.published]
    assert events[0].type == AUVO_CUSTOMER_CHANGED


def test_deleted_or_unknown_entities_publish_nothing() -> None:
    auvo = FakeAuvo()
    events = AuvoEvents(auvo, TaskRules(enabled=True), customers_enabled=True)
    assert events.events(parse_auvo_notification(notifier("Cliente", "Exclusao", [customer()]))) == []
    assert events.events(parse_auvo_notification(notifier("Usuarios", "Inclusao", [{"id": 1}]))) == []
    # read again, but deleted since: nothing, and no error (Auvo must not retry forever)
    assert events.events(parse_auvo_notification(notifier("Tarefas", "Alteracao", [{"taskID": 5}]))) == []
    assert events.outcomes["gone"] == 1


def test_customers_not_synced_from_auvo_publish_nothing() -> None:
    events = AuvoEvents(FakeAuvo(), TaskRules(), customers_enabled=False)
    assert events.events(parse_auvo_notification(notifier("Cliente", "Alteracao", [customer()]))) == []


def test_task_goes_through_the_pollers_selection() -> None:
    rules = TaskRules(enabled=True, status=TaskStatus.finished_auto_or_manual)
    valued, empty = task(1, valued=True), task(2, valued=False)
    auvo = FakeAuvo(tasks={1: valued, 2: empty})
    events = AuvoEvents(auvo, rules, customers_enabled=True)
    published = events.events(parse_auvo_notification(notifier("Tarefas", "Alteracao", [{"taskID": 1}])))
    expected, _ = task_event(valued, rules, lambda: set())
    assert expected is not None and [e.event_id for e in published] == [expected.event_id]
    assert events.events(parse_auvo_notification(notifier("Tarefas", "Alteracao", [{"taskID": 2}]))) == []
    assert events.outcomes[f"filtered_{NO_VALUES}"] == 1


# --- the receiver -----------------------------------------------------------------------------------------


def _post_bling(client: TestClient, body: bytes, signature: str | None) -> Any:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Bling-Signature-256"] = signature
    return client.post("/webhooks/bling", content=body, headers=headers)


def test_receiver_rejects_before_acting(hooks: tuple[TestClient, Recorder, FakeAuvo], store: Store) -> None:
    client, recorder, _ = hooks
    body = bling_body()
    assert _post_bling(client, body, None).status_code == 401
    assert _post_bling(client, body, "sha256=" + "f" * 64).status_code == 401
    big = json.dumps({"event": "order.updated", "data": {"id": 1}, "pad": "x" * 5000}).encode()
    assert _post_bling(client, big, bling_signature(big, SECRET)).status_code == 413
    junk = b"{not json"
    assert _post_bling(client, junk, bling_signature(junk, SECRET)).status_code == 400
    old = bling_body(date="2025-03-08T15:00:00Z")
    assert _post_bling(client, old, bling_signature(old, SECRET)).status_code == 409
    wrong = client.post(
        f"/webhooks/auvo/{AUVO_SECRET[:-1]}x", json=notifier("Cliente", "Inclusao", [customer()])
    )
    assert wrong.status_code == 401
    stale = notifier("Cliente", "Inclusao", [customer()], date="2025-03-01T12:00:00")
    assert client.post(f"/webhooks/auvo/{AUVO_SECRET}", json=stale).status_code == 409
    assert recorder.published == []
    assert store.last_heard("default") == {}  # nothing unverified counts as "heard from"


def test_receiver_answers_without_secrets(hooks: tuple[TestClient, Recorder, FakeAuvo]) -> None:
    client, _, _ = hooks
    answer = client.post(f"/webhooks/auvo/{AUVO_SECRET}x", json=notifier("Cliente", "Inclusao", [customer()]))
    assert AUVO_SECRET not in answer.text and SECRET not in answer.text


def test_receiver_publishes_then_answers(hooks: tuple[TestClient, Recorder, FakeAuvo], store: Store) -> None:
    client, recorder, _ = hooks
    body = notifier("Cliente", "Alteracao", [customer()])
    answer = client.post(f"/webhooks/auvo/{AUVO_SECRET}", json=body)
    assert answer.status_code == 200 and answer.json()["published"] == 1
    assert client.post(f"/webhooks/auvo/{AUVO_SECRET}", json=body).json()["published"] == 0  # duplicate
    assert [e.event_id for e in recorder.published] == [auvo_customer_changed(customer()).event_id]
    assert "webhook" in store.last_heard("default")["auvo.customers"]


def test_broker_down_is_503_so_the_sender_retries(hooks: tuple[TestClient, Recorder, FakeAuvo]) -> None:
    client, recorder, _ = hooks
    recorder.down = True
    answer = client.post(f"/webhooks/auvo/{AUVO_SECRET}", json=notifier("Cliente", "Alteracao", [customer()]))
    assert answer.status_code == 503
    recorder.down = False
    answer = client.post(f"/webhooks/auvo/{AUVO_SECRET}", json=notifier("Cliente", "Alteracao", [customer()]))
    assert answer.status_code == 200 and answer.json()["published"] == 1  # the retry is not deduplicated away


def test_bling_deletion_forgets_our_link_and_remembers(
    hooks: tuple[TestClient, Recorder, FakeAuvo], store: Store
) -> None:
    client, _, _ = hooks
    with store.transaction() as conn:
        store.link(conn, "default", JOB_ORDER, "9100001", "16000000001")
        store.link(conn, "default", QUOTE_PROPOSAL, "5001", "16000000002")
        store.link(conn, "default", "product", "p-1", "16000000003")
    updated = bling_body("order.updated", 16_000_000_001)
    assert _post_bling(client, updated, bling_signature(updated, SECRET)).json()["result"] == "link_kept"
    deleted = bling_body("order.deleted", 16_000_000_001)
    for _ in range(2):  # a duplicate delivery changes nothing more
        assert _post_bling(client, deleted, bling_signature(deleted, SECRET)).status_code == 200
    assert store.bling_id_for("default", JOB_ORDER, "9100001") is None
    assert store.is_deleted_in_bling("default", JOB_ORDER, "9100001")
    product = bling_body("product.deleted", 16_000_000_003)
    assert _post_bling(client, product, bling_signature(product, SECRET)).json()["result"] == "link_forgotten"
    assert store.bling_id_for("default", "product", "p-1") is None
    other = bling_body("order.deleted", 99)
    assert _post_bling(client, other, bling_signature(other, SECRET)).json()["result"] == "not_ours"
    assert store.bling_id_for("default", QUOTE_PROPOSAL, "5001") == "16000000002"
    assert store.allow_recreate("default", JOB_ORDER, "9100001")
    assert not store.is_deleted_in_bling("default", JOB_ORDER, "9100001")
