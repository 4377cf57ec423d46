"""The record history in the store (infra/store/history.py) on SQLite and PostgreSQL: who writes it,
that re-reads cost nothing, that a handler's row rides on its commit, and that retention prunes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from consumers.base import CREATED, HandlerBase, Outcome
from contracts.envelope import Envelope
from contracts.events import auvo_task_status_reached
from infra.bus.runner import failure_row
from infra.bus.topology import TO_BLING_ORDERS
from infra.errors import ApiRejected, FieldError
from infra.store import HistoryRow, Store
from infra.store.history import Kind
from infra.store.retention import prune
from infra.store.tables import record_history
from producers.decisions import DecisionLog
from producers.task_selection import TaskRules

TENANT = "acme"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path / 's.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    s = Store(url)
    try:
        yield s
    finally:
        s.dispose()


def task_record(task_id: int = 77, stamp: str = "2026-12-02T09:00:00") -> dict[str, Any]:
    return {
        "taskID": task_id,
        "customerId": 5,
        "taskType": 1,
        "finished": True,
        "checkOut": True,
        "dateLastUpdate": stamp,
        "products": [{"code": "FA-01", "quantity": 1, "unitaryValue": 10, "totalValue": 10}],
    }


def count_rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(record_history)).scalar_one())


def test_rows_read_back_oldest_first_and_a_bare_id_finds_its_subjects(store: Store) -> None:
    store.record_history(
        TENANT,
        [
            HistoryRow("auvo.task", "77", Kind.published, event_id="e2", at=NOW + timedelta(seconds=5)),
            HistoryRow(
                "auvo.task", "77", Kind.left_out, "no_values", version="v1", details={"state": "x"}, at=NOW
            ),
            HistoryRow("auvo.customer", "77", Kind.handled, CREATED, event_id="e3", at=NOW),
            HistoryRow("auvo.task", "78", Kind.left_out, "status", at=NOW),
        ],
    )
    store.record_history("other-tenant", [HistoryRow("auvo.quotation", "77", Kind.left_out, "stage")])
    rows = store.history_of(TENANT, "auvo.task", "77")
    assert [(r.kind, r.code) for r in rows] == [("left_out", "no_values"), ("published", None)]
    assert rows[0].details == {"state": "x"} and rows[0].at == NOW
    assert store.history_subjects(TENANT, ["77"]) == [("auvo.customer", "77"), ("auvo.task", "77")]
    assert store.history_subjects(TENANT, []) == []


class Sink:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls = 0

    def record_history(self, tenant: str, rows: list[HistoryRow]) -> None:
        self.calls += 1
        self.store.record_history(tenant, rows)


def test_a_re_read_of_the_same_decision_writes_nothing_and_a_new_version_one_row(store: Store) -> None:
    sink = Sink(store)
    log = DecisionLog(sink, TENANT, "auvo.task")
    log.left_out("77", "v1", "no_values")
    log.left_out("77", "v1", "no_values")  # the overlap window read it again in the same pass
    assert log.flush() == 1
    log.left_out("77", "v1", "no_values")  # the next pass
    assert log.flush() == 0 and sink.calls == 1  # no transaction at all for a pass with nothing new
    log.left_out("77", "v2", "no_values")
    envelope = auvo_task_status_reached(
        task_record(stamp="2026-12-02T09:10:00"), "finished_automatically", tenant=TENANT
    )
    log.published(envelope)
    log.published(envelope)
    assert log.flush() == 2 and sink.calls == 2
    rows = store.history_of(TENANT, "auvo.task", "77")
    assert [(r.kind, r.version) for r in rows] == [
        ("left_out", "v1"),
        ("left_out", "v2"),
        ("published", envelope.entity_version),
    ]
    assert rows[-1].event_id == envelope.event_id


class Orders(HandlerBase):
    consumer = TO_BLING_ORDERS.flow

    def apply(self, envelope: Envelope) -> Outcome:
        return Outcome(CREATED, link=("task", envelope.entity_id, "9001"))


def test_a_handled_event_adds_its_row_to_the_processed_event_commit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    envelope = auvo_task_status_reached(task_record(), "finished_automatically", tenant=TENANT)
    # same transaction: a commit that fails after the row was added leaves neither behind
    with monkeypatch.context() as patch:
        patch.setattr(store, "bump", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("db gone")))
        with pytest.raises(RuntimeError):
            Orders(store)(envelope)
    assert store.history_of(TENANT, "auvo.task", "77") == []
    assert not store.is_processed(TENANT, Orders.consumer, envelope.event_id)

    assert Orders(store)(envelope) == CREATED
    [row] = store.history_of(TENANT, "auvo.task", "77")
    assert (row.kind, row.code, row.event_id) == ("handled", CREATED, envelope.event_id)
    assert row.details["bling_id"] == "9001" and row.details["flow"] == "sales.task_to_pedido"
    assert store.is_processed(TENANT, Orders.consumer, envelope.event_id)


def test_a_dead_letter_row_keeps_the_diagnosis_without_the_body() -> None:
    envelope = auvo_task_status_reached(task_record(), "finished_automatically", tenant=TENANT)
    error = ApiRejected(
        "Não foi possível salvar o contato",
        http_status=400,
        field_errors=[FieldError(code=5, msg="O CPF informado é inválido", element="numeroDocumento")],
    )
    row = failure_row(envelope, TO_BLING_ORDERS, Kind.dead_lettered, error, 1)
    assert (row.subject, row.entity_id, row.code) == ("auvo.task", "77", "ApiRejected")
    assert row.details["hint"].startswith("the API refused the data")
    assert row.details["field_errors"][0]["element"] == "numeroDocumento"
    assert row.details["http_status"] == 400 and row.details["attempts"] == 1
    assert "products" not in str(row.details)


def test_retention_prunes_history_older_than_the_cutoff(store: Store) -> None:
    old = [
        HistoryRow("auvo.task", str(i), Kind.left_out, "status", at=NOW - timedelta(days=31, minutes=i))
        for i in range(7)
    ]
    recent = [HistoryRow("auvo.task", "1", Kind.published, event_id="e", at=NOW - timedelta(days=29))]
    store.record_history(TENANT, old + recent)
    assert prune(store, retention_days=30, now=NOW, dry_run=True).removed["record_history"] == 7
    assert count_rows(store) == 8
    report = prune(store, retention_days=30, now=NOW, batch_rows=3)
    assert report.removed["record_history"] == 7
    assert [r.kind for r in store.history_of(TENANT, "auvo.task", "1")] == ["published"]
    assert "record_history    removed 7 history rows" in "\n".join(report.lines())


def test_a_task_left_out_on_a_webhook_is_told_with_its_rule(store: Store) -> None:
    from producers.webhooks.auvo_notifications import AuvoEvents, parse_auvo_notification
    from tests.unit.test_webhook_verification import FakeAuvo, notifier

    empty = task_record(task_id=2) | {"products": []}
    events = AuvoEvents(
        FakeAuvo(tasks={2: empty}), TaskRules(enabled=True), True, tenant=TENANT, history=store
    )
    notification = parse_auvo_notification(notifier("Tarefas", "Alteracao", [{"taskID": 2}]))
    assert events.events(notification) == []
    assert events.events(notification) == []  # Auvo sent it twice: one row
    [row] = store.history_of(TENANT, "auvo.task", "2")
    assert (row.kind, row.code, row.details["via"]) == ("left_out", "no_values", "webhook")
