"""From what a person types to the record (auvo_bling/story/lookup.py), on a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auvo_bling.story import VerdictKind, record_story
from contracts.options import TaskStatus
from infra.errors import NotFound
from infra.store import HistoryRow, Store
from infra.store.history import Kind
from producers.task_selection import TaskRules

T = "acme"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    s.record_history(
        T,
        [
            HistoryRow("auvo.task", "42", Kind.left_out, "no_values"),
            HistoryRow("auvo.customer", "42", Kind.handled, "created", event_id="e1"),
        ],
    )
    with s.transaction() as conn:
        s.link(conn, T, "customer", "42", "16000000001")
    s.index_customer(T, "auvo", "42", {"document": "52998224725", "email": ""})
    return s


def test_a_number_that_is_several_records_picks_the_task_and_names_the_others(store: Store) -> None:
    story = record_story(store, T, " 42 ")
    assert (story.subject, story.entity_id) == ("auvo.task", "42")
    assert story.verdict.kind is VerdictKind.left_out
    assert story.others == (("auvo.customer", "42"),)
    customer = record_story(store, T, "42", subject="auvo.customer")
    assert customer.verdict.kind is VerdictKind.integrated
    assert customer.verdict.written[0].record_id == "16000000001"


def test_a_bling_id_and_a_cpf_find_their_customer(store: Store) -> None:
    contato = record_story(store, T, "16000000001")
    assert contato.subject == "bling.contato" and contato.verdict.written[0].record_id == "42"
    assert contato.verdict.written[0].system == "auvo"
    for typed in ("529.982.247-25", "52998224725"):
        story = record_story(store, T, typed)
        assert (story.subject, story.entity_id) == ("auvo.customer", "42")
    assert record_story(store, "other-tenant", "42").verdict.kind is VerdictKind.not_seen


class Auvo:
    def __init__(self, tasks: dict[str, dict[str, Any]]) -> None:
        self.tasks = tasks
        self.reads: list[str] = []

    def get_task(self, task_id: int | str) -> dict[str, Any]:
        self.reads.append(str(task_id))
        if str(task_id) not in self.tasks:
            raise NotFound("no such task", http_status=404)
        return self.tasks[str(task_id)]


def valued(**fields: Any) -> dict[str, Any]:
    return {"products": [{"quantity": 1, "unitaryValue": 10, "totalValue": 10}], "customerId": 5, **fields}


def test_a_task_the_store_never_saw_is_looked_up_in_auvo_once(store: Store) -> None:
    auvo = Auvo({"7": valued(finished=False), "8": valued(finished=True, checkOut=True)})
    rules = TaskRules(enabled=True, status=TaskStatus.finished_auto_or_manual, customer_group=3)
    status = record_story(store, T, "7", auvo=auvo, task_rules=rules, group_members=lambda: {5})
    assert status.verdict.kind is VerdictKind.left_out and status.verdict.reason_code == "status"
    assert status.steps[0].kind == "checked"
    passing = record_story(store, T, "8", auvo=auvo, task_rules=rules, group_members=lambda: {5})
    assert (
        passing.verdict.kind is VerdictKind.not_seen
        and "passa em todas as regras" in passing.steps[0].summary_pt
    )
    group = record_story(store, T, "8", auvo=auvo, task_rules=rules, group_members=lambda: {6})
    assert group.verdict.reason_code == "customer_group"
    named = record_story(store, T, "7", subject="auvo.task", auvo=auvo, task_rules=rules)
    assert named.verdict.reason_code == "status"
    missing = record_story(store, T, "9", auvo=auvo, task_rules=rules)
    assert missing.verdict.kind is VerdictKind.not_seen and missing.steps == ()
    record_story(store, T, "42", auvo=auvo, task_rules=rules)  # known to the store: Auvo is not asked
    assert auvo.reads == ["7", "8", "8", "7", "9"]
