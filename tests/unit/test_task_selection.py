"""The guide's task and quotation rules, by table: each option, a matching and a non-matching record."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from contracts.options import TaskStatus
from infra.auvo.wire import auvo_number
from infra.settings import QuoteSettings, TaskSettings
from producers.task_selection import (
    CUSTOMER_GROUP,
    DISABLED,
    NO_VALUES,
    STAGE,
    STATUS,
    TASK_TYPE,
    QuoteRules,
    TaskRules,
    TaskState,
    has_values,
    select_quote,
    select_task,
    task_state,
    why_not_quote,
    why_not_task,
)

VALUED_PRODUCT = {"productId": "63867f52", "quantity": 2.0, "unitaryValue": 35.9, "totalValue": 71.8}
VALUED_SERVICE = {"id": "419384ad", "quantity": 1.0, "unitaryValue": 180.0, "totalValue": 180.0}
FREE_PRODUCT = {"productId": "63867f52", "quantity": 1.0, "unitaryValue": 0.0, "totalValue": 0.0}


def task(**fields: Any) -> dict[str, Any]:
    """A task as Auvo's list returns it: open, customer 456, type 23, one valued product."""
    record: dict[str, Any] = {
        "taskID": 23,
        "customerId": 456,
        "taskType": 23,
        "finished": False,
        "checkIn": False,
        "checkOut": False,
        "taskStatus": 1,
        "products": [VALUED_PRODUCT],
        "services": [],
        "dateLastUpdate": "2026-03-23T18:10:00",
    }
    record.update(fields)
    return record


OPEN = task()
FINISHED_BY_CHECKOUT = task(finished=True, checkIn=True, checkOut=True, taskStatus=5)
FINISHED_BY_HAND = task(finished=True, checkIn=False, checkOut=False, taskStatus=5)
CHECKED_OUT_NOT_FINISHED = task(checkIn=True, checkOut=True, taskStatus=4)


@pytest.mark.parametrize(
    ("record", "state"),
    [
        (OPEN, TaskState.not_finished),
        (CHECKED_OUT_NOT_FINISHED, TaskState.not_finished),
        (task(taskStatus=6), TaskState.not_finished),  # paused
        (FINISHED_BY_CHECKOUT, TaskState.finished_automatically),
        (FINISHED_BY_HAND, TaskState.finished_manually),
    ],
)
def test_task_state_from_the_records_status_fields(record: dict[str, Any], state: TaskState) -> None:
    assert task_state(record) is state


# status option -> (open, finished by check-out, finished by hand)
STATUS_TABLE = [
    (TaskStatus.all, (True, True, True)),
    (TaskStatus.not_finished, (True, False, False)),
    (TaskStatus.finished_automatically, (False, True, False)),
    (TaskStatus.finished_manually, (False, False, True)),
    (TaskStatus.finished_auto_or_manual, (False, True, True)),
]


@pytest.mark.parametrize(("status", "expected"), STATUS_TABLE, ids=[s.value for s, _ in STATUS_TABLE])
def test_each_status_option(status: TaskStatus, expected: tuple[bool, bool, bool]) -> None:
    rules = TaskRules(enabled=True, status=status)
    got = tuple(select_task(t, rules) for t in (OPEN, FINISHED_BY_CHECKOUT, FINISHED_BY_HAND))
    assert got == expected
    for record, selected in zip((OPEN, FINISHED_BY_CHECKOUT, FINISHED_BY_HAND), expected, strict=True):
        assert why_not_task(record, rules) == (None if selected else STATUS)


@pytest.mark.parametrize(
    ("products", "services", "valued"),
    [
        ([VALUED_PRODUCT], [], True),
        ([], [VALUED_SERVICE], True),
        ([FREE_PRODUCT], [VALUED_SERVICE], True),
        ([], [], False),
        ([FREE_PRODUCT], [], False),
        ([{**VALUED_PRODUCT, "quantity": 0, "totalValue": 0}], [], False),
        ([{"productId": "x", "quantity": "2", "unitaryValue": "12,50", "totalValue": None}], [], True),
        (None, None, False),
    ],
)
def test_only_tasks_whose_products_or_services_carry_values(
    products: list[dict[str, Any]] | None, services: list[dict[str, Any]] | None, valued: bool
) -> None:
    record = task(products=products, services=services)
    assert has_values(record) is valued
    rules = TaskRules(enabled=True)
    assert why_not_task(record, rules) == (None if valued else NO_VALUES)


def test_a_task_that_gets_values_later_is_selected_then() -> None:
    rules = TaskRules(enabled=True, status=TaskStatus.finished_auto_or_manual)
    before = task(finished=True, checkOut=True, products=[], services=[])
    after = {**before, "services": [VALUED_SERVICE], "dateLastUpdate": "2026-03-24T09:00:00"}
    assert (select_task(before, rules), select_task(after, rules)) == (False, True)


@pytest.mark.parametrize(
    ("task_types", "task_type", "selected"),
    [
        ((), 23, True),  # empty = every type
        ((), 99, True),
        ((23,), 23, True),
        ((11, 12), 23, False),
        ((11, 23), 23, True),
        ((11,), None, False),
    ],
)
def test_task_types_option(task_types: tuple[int, ...], task_type: int | None, selected: bool) -> None:
    rules = TaskRules(enabled=True, task_types=frozenset(task_types))
    assert why_not_task(task(taskType=task_type), rules) == (None if selected else TASK_TYPE)


@pytest.mark.parametrize(
    ("group", "members", "customer", "selected"),
    [
        (None, None, 456, True),  # no group configured: every customer
        (7, {456, 457}, 456, True),
        (7, {457}, 456, False),
        (7, set(), 456, False),
        (7, None, 456, False),  # a group configured but its members unknown: nothing passes
    ],
)
def test_customer_group_option(
    group: int | None, members: set[int] | None, customer: int, selected: bool
) -> None:
    rules = TaskRules(enabled=True, customer_group=group)
    assert why_not_task(task(customerId=customer), rules, members) == (None if selected else CUSTOMER_GROUP)


def test_disabled_selects_nothing() -> None:
    assert why_not_task(FINISHED_BY_CHECKOUT, TaskRules(enabled=False)) == DISABLED


def test_rules_from_settings() -> None:
    settings = TaskSettings(enabled=True, status="finished_manually", task_types="11,12", customer_group=7)
    assert TaskRules.from_settings(settings) == TaskRules(
        enabled=True, status=TaskStatus.finished_manually, task_types=frozenset({11, 12}), customer_group=7
    )


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (12.5, Decimal("12.5")),
        (3, Decimal(3)),
        ("12.00", Decimal("12.00")),
        ("12,00", Decimal("12.00")),
        ("1.234,56", Decimal("1234.56")),
        ("1,234.56", Decimal("1234.56")),
        ("2.500.000,00", Decimal("2500000.00")),
        ("", Decimal(0)),
        (None, Decimal(0)),
        ("abc", Decimal(0)),
    ],
)
def test_auvo_numbers_in_every_spelling(value: Any, number: Decimal) -> None:
    assert auvo_number(value) == number


# --- quotations -----------------------------------------------------------------------------------


def quote(stage: str = "Aprovado", stage_id: int = 3) -> dict[str, Any]:
    return {"publicId": 42, "taskID": 0, "CurrentStage": {"id": stage_id, "description": stage}}


@pytest.mark.parametrize(
    ("enabled", "stage_setting", "record", "reason"),
    [
        (False, "Aprovado", quote(), DISABLED),
        (True, "Aprovado", quote(), None),
        (True, "aprovado ", quote("Aprovado"), None),
        (True, "Orçamento aprovado", quote("Orcamento Aprovado"), None),
        (True, "Aprovado", quote("Em aberto", 1), STAGE),
        (True, "Aprovado", quote("Aprovado parcialmente"), STAGE),  # Auvo's filter is "contains"
        (True, "3", quote("Aprovado", 3), None),  # by id
        (True, "3", quote("Em aberto", 1), STAGE),
        (True, None, quote("Em aberto", 1), None),  # no stage: every quotation
        (True, "Aprovado", {"publicId": 1}, STAGE),
    ],
)
def test_quote_rules(
    enabled: bool, stage_setting: str | None, record: dict[str, Any], reason: str | None
) -> None:
    rules = QuoteRules.from_settings(QuoteSettings(enabled=enabled, stage=stage_setting))
    assert why_not_quote(record, rules) == reason
    assert select_quote(record, rules) is (reason is None)
