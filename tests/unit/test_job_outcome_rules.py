"""The job's outcome (issue 17, item 3) by table: the pedido's state, the task's keywords, the
webhook's selection, and the writer's idempotence (same state twice -> one PATCH)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consumers.base import UNCHANGED, UPDATED
from consumers.sales.outcome import task_content_fingerprint, task_id_of_store_number, task_keywords
from consumers.sales.outcome_keywords import OutcomeKeywords
from consumers.sales.outcome_writer import NOT_OURS, OPEN, BlingOrderOutcomeToAuvoTask
from contracts.events import bling_order_outcome
from contracts.order_outcomes import JobOutcome, order_outcome
from contracts.store_keys import JOB_ORDER
from infra.store import Store
from producers.webhooks.bling_notifications import parse_bling_notification
from producers.webhooks.bling_order_outcomes import BlingOrderOutcomeEvents

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
OURS = {JobOutcome.attended: "41", JobOutcome.cancelled: "42", JobOutcome.invoiced: "43"}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ({"situacao": {"id": 6}}, None),
        ({"situacao": {"id": 9}}, JobOutcome.attended),
        ({"situacao": {"id": 12}}, JobOutcome.cancelled),
        ({"situacao": {"id": 9}, "notaFiscal": {"id": 77}}, JobOutcome.invoiced),
        ({"situacao": {"id": 6}, "notaFiscal": {"id": 77}}, JobOutcome.invoiced),
        ({"situacao": {"id": 12}, "notaFiscal": {"id": 77}}, JobOutcome.cancelled),
        ({"situacao": {"id": 9}, "notaFiscal": {"id": 0}}, JobOutcome.attended),
        ({}, None),
    ],
)
def test_the_pedidos_state(order: dict[str, Any], expected: JobOutcome | None) -> None:
    assert order_outcome(order) == expected


@pytest.mark.parametrize(
    ("current", "outcome", "expected"),
    [
        ([], JobOutcome.attended, ["41"]),
        (["7"], JobOutcome.attended, ["7", "41"]),
        (["7", "41"], JobOutcome.invoiced, ["7", "43"]),
        ([41, "8"], None, ["8"]),
        (["43"], JobOutcome.invoiced, ["43"]),
    ],
)
def test_the_companys_keywords_are_kept_and_ours_swapped(
    current: list[Any], outcome: JobOutcome | None, expected: list[str]
) -> None:
    assert task_keywords(current, OURS, outcome) == expected


@pytest.mark.parametrize(
    ("store_number", "task_id"),
    [
        ("AUVO-TASK-9100001", "9100001"),
        ("AUVO-ORC-5", None),
        ("LOJA-1", None),
        (None, None),
        ("AUVO-TASK-x", None),
    ],
)
def test_a_notas_store_number_names_the_task(store_number: str | None, task_id: str | None) -> None:
    assert task_id_of_store_number(store_number) == task_id


def test_our_patch_leaves_the_tasks_content_as_it_was() -> None:
    task = {"taskID": 1, "customerId": 2, "orientation": "x", "dateLastUpdate": "2026-12-02T10:00:00"}
    patched = {**task, "externalId": "1042", "keyWords": ["41"], "dateLastUpdate": "2026-12-02T10:00:05"}
    assert task_content_fingerprint(task) == task_content_fingerprint(patched)
    assert task_content_fingerprint(task) != task_content_fingerprint({**task, "orientation": "y"})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    with store.transaction() as conn:
        store.link(conn, "default", JOB_ORDER, "9100001", "16000000003")
    return store


def _notification(event: str, data: dict[str, Any]) -> Any:
    return parse_bling_notification({"event": event, "eventId": "e", "date": NOW.isoformat(), "data": data})


@pytest.mark.parametrize(
    ("event", "data", "published"),
    [
        ("order.updated", {"id": 16000000003, "situacao": {"id": 9}}, 1),
        ("order.updated", {"id": 16000000003, "situacao": {"id": 6}}, 0),  # open: our own write
        ("order.updated", {"id": 16000000003}, 1),  # no situação told: the consumer reads it
        ("order.updated", {"id": 99, "situacao": {"id": 9}}, 0),  # not a task's pedido
        ("order.deleted", {"id": 16000000003}, 0),  # the id map keeper's
        ("invoice.created", {"id": 5, "situacao": 5, "numeroPedidoLoja": "AUVO-TASK-9100001"}, 1),
        ("invoice.created", {"id": 5, "situacao": 1}, 0),  # pending
        ("consumer_invoice.updated", {"id": 5, "situacao": 6}, 1),
        ("product.updated", {"id": 1}, 0),
    ],
)
def test_which_notifications_become_outcome_events(
    store: Store, event: str, data: dict[str, Any], published: int
) -> None:
    assert len(BlingOrderOutcomeEvents(store).events(_notification(event, data), NOW)) == published


class FakeBling:
    def __init__(self) -> None:
        self.order: dict[str, Any] = {"id": 16000000003, "numero": 1042, "situacao": {"id": 9}}
        self.invoices: dict[int, dict[str, Any]] = {5: {"id": 5, "numeroPedidoLoja": "AUVO-TASK-9100001"}}

    def get_sales_order(self, order_id: int) -> dict[str, Any]:
        return dict(self.order)

    def get_invoice(self, invoice_id: int) -> dict[str, Any]:
        return self.invoices[invoice_id]


class FakeAuvo:
    def __init__(self) -> None:
        self.task: dict[str, Any] = {"taskID": 9100001, "keyWords": ["7"]}
        self.patches: list[list[dict[str, Any]]] = []
        self.created: list[str] = []

    def get_task(self, task_id: int | str) -> dict[str, Any]:
        return dict(self.task)

    def patch_task(self, task_id: int | str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        self.patches.append(operations)
        for op in operations:
            self.task[op["path"]] = op["value"]
        return dict(self.task)

    def iter_keywords(self, param_filter: dict[str, Any] | None = None) -> Any:
        return iter([{"id": 41, "description": "pedido atendido"}])

    def create_keyword(self, description: str) -> dict[str, Any]:
        self.created.append(description)
        return {"id": 50 + len(self.created), "description": description}


def test_the_writer_shows_each_state_once(store: Store) -> None:
    bling, auvo = FakeBling(), FakeAuvo()
    keywords = OutcomeKeywords(
        auvo, {JobOutcome.attended: None, JobOutcome.cancelled: 42, JobOutcome.invoiced: None}
    )
    writer = BlingOrderOutcomeToAuvoTask(store, bling, auvo, keywords)

    def hint(state: str, **ids: Any) -> Any:
        return bling_order_outcome(state=state, observed_at=NOW, **ids)

    assert writer(hint("a", order_id=16000000003)) == UPDATED
    assert auvo.task["externalId"] == "1042" and auvo.task["keyWords"] == ["7", "41"]  # found by description
    assert writer(hint("b", order_id=16000000003)) == UNCHANGED  # same state told again: no PATCH
    bling.order["notaFiscal"] = {"id": 5}
    assert writer(hint("c", invoice_id=5)) == UPDATED  # the nota names its pedido by numeroPedidoLoja
    assert auvo.task["keyWords"] == ["7", "51"]
    assert auvo.created == ["Nota fiscal emitida"]  # the configured id is used, the found one reused
    assert len(auvo.patches) == 2
    assert writer(hint("d", order_id=99)) == NOT_OURS


def test_an_open_pedido_shows_nothing(store: Store) -> None:
    bling, auvo = FakeBling(), FakeAuvo()
    bling.order["situacao"] = {"id": 6}
    writer = BlingOrderOutcomeToAuvoTask(
        store, bling, auvo, OutcomeKeywords(auvo, dict.fromkeys(JobOutcome, 1))
    )
    assert writer(bling_order_outcome(state="open", observed_at=NOW, order_id=16000000003)) == OPEN
    assert auvo.patches == []


def test_an_unknown_keyword_id_stops_the_start() -> None:
    from auvo_bling.option_checks import task_option_problems
    from infra.settings import TaskSettings

    class Keywords:
        def iter_keywords(self, param_filter: dict[str, Any] | None = None) -> Any:
            return iter([{"id": 41, "description": "Pedido atendido"}])

    tasks = TaskSettings(enabled=True, outcome=True, keyword_attended=41, keyword_invoiced=99)
    problems = task_option_problems(tasks, Keywords())  # type: ignore[arg-type]
    assert list(problems) == ["tasks.keyword_invoiced"]
    assert (
        "no Auvo keyword 99" in problems["tasks.keyword_invoiced"]
        and "41 (Pedido atendido)" in problems["tasks.keyword_invoiced"]
    )
    assert task_option_problems(TaskSettings(enabled=True, keyword_invoiced=99), Keywords()) == {}  # type: ignore[arg-type]
