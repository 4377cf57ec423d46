"""Which Auvo tasks and quotations the settings send to Bling: pure rules, tested by table.

The activation guide's "Configurações de Tarefas" and "Configurações de Orçamentos" become
`TaskRules` and `QuoteRules`; `why_not_task` / `why_not_quote` name the first rule a record fails
(so the demo and the logs can say what each rule filtered out) and `select_*` is "no rule failed".

Status of a task. The guide offers five choices (all, not finished, finished automatically,
finished manually, finished automatically or manually), which are Auvo's own list filter values
4, 0, 1, 2, 3. The task record shows `finished` and `checkOut`; a task finished through the
technician's check-out in the app is "finished automatically", one marked finished without a
check-out (by a manager in the web panel) is "finished manually". The producer also passes the
same filter value to Auvo, so Auvo's own classification pre-filters what this function sees.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from contracts.options import TaskStatus
from infra.auvo.wire import auvo_number
from infra.settings import QuoteSettings, TaskSettings

# Reasons `why_not_task` gives, named in one table (producers/selection_reasons.py) that the demo's
# summary and a record's story read.
from producers.selection_reasons import (
    CUSTOMER_GROUP,
    DISABLED,
    NO_VALUES,
    STAGE,
    STATUS,
    TASK_TYPE,
)


class TaskState(StrEnum):
    """Where one task stands, in the guide's words."""

    not_finished = "not_finished"
    finished_automatically = "finished_automatically"
    finished_manually = "finished_manually"


ACCEPTED_STATES: dict[TaskStatus, frozenset[TaskState]] = {
    TaskStatus.all: frozenset(TaskState),
    TaskStatus.not_finished: frozenset({TaskState.not_finished}),
    TaskStatus.finished_automatically: frozenset({TaskState.finished_automatically}),
    TaskStatus.finished_manually: frozenset({TaskState.finished_manually}),
    TaskStatus.finished_auto_or_manual: frozenset(
        {TaskState.finished_automatically, TaskState.finished_manually}
    ),
}


def task_state(task: dict[str, Any]) -> TaskState:
    """The guide's status of a task, from the record's `finished` and `checkOut` fields."""
    if not task.get("finished"):
        return TaskState.not_finished
    return TaskState.finished_automatically if task.get("checkOut") else TaskState.finished_manually


def _line_value(line: dict[str, Any]) -> Decimal:
    total = auvo_number(line.get("totalValue"))
    if total > 0:
        return total
    return auvo_number(line.get("quantity")) * auvo_number(line.get("unitaryValue"))


def has_values(task: dict[str, Any]) -> bool:
    """True if at least one product or service of the task carries a value (the guide's rule)."""
    lines = list(task.get("products") or []) + list(task.get("services") or [])
    return any(_line_value(line) > 0 for line in lines if isinstance(line, dict))


@dataclass(frozen=True)
class TaskRules:
    """The task options of the settings, frozen for one poll."""

    enabled: bool = False
    status: TaskStatus = TaskStatus.all
    task_types: frozenset[int] = field(default_factory=frozenset)
    customer_group: int | None = None

    @classmethod
    def from_settings(cls, settings: TaskSettings) -> TaskRules:
        return cls(
            enabled=settings.enabled,
            status=settings.status,
            task_types=frozenset(settings.task_types),
            customer_group=settings.customer_group,
        )


def why_not_task(
    task: dict[str, Any], rules: TaskRules, group_members: Collection[int] | None = None
) -> str | None:
    """The first rule the task fails, or None when it is to be integrated.

    `group_members` are the customer ids of `rules.customer_group` (the caller looks them up once
    per poll); with a group configured and no members given, no task passes.
    """
    if not rules.enabled:
        return DISABLED
    if task_state(task) not in ACCEPTED_STATES[rules.status]:
        return STATUS
    if rules.task_types and _as_int(task.get("taskType")) not in rules.task_types:
        return TASK_TYPE
    if rules.customer_group is not None and (
        group_members is None or _as_int(task.get("customerId")) not in group_members
    ):
        return CUSTOMER_GROUP
    if not has_values(task):
        return NO_VALUES
    return None


def select_task(task: dict[str, Any], rules: TaskRules, group_members: Collection[int] | None = None) -> bool:
    """Does this task go to Bling as a pedido de venda? (every configured rule holds)."""
    return why_not_task(task, rules, group_members) is None


@dataclass(frozen=True)
class QuoteRules:
    """The quotation options of the settings."""

    enabled: bool = False
    stage: str | None = None

    @classmethod
    def from_settings(cls, settings: QuoteSettings) -> QuoteRules:
        return cls(enabled=settings.enabled, stage=settings.stage)


def normalise_stage(text: str | None) -> str:
    """Stage names compared without case, accents or surrounding blanks ("Aprovado" == "aprovado ")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).lower().split())


def quote_stage(quote: dict[str, Any]) -> dict[str, Any]:
    stage = quote.get("CurrentStage")
    return stage if isinstance(stage, dict) else {}


def why_not_quote(quote: dict[str, Any], rules: QuoteRules) -> str | None:
    """The first rule the quotation fails, or None when it is to be integrated.

    `quotes.stage` names the quotation's `CurrentStage` by its description (or by its id, given as
    digits); without a stage every quotation is integrated.
    """
    if not rules.enabled:
        return DISABLED
    if rules.stage:
        stage = quote_stage(quote)
        wanted = rules.stage.strip()
        by_id = wanted.isdigit() and str(stage.get("id")) == wanted
        if not by_id and normalise_stage(stage.get("description")) != normalise_stage(wanted):
            return STAGE
    return None


def select_quote(quote: dict[str, Any], rules: QuoteRules) -> bool:
    return why_not_quote(quote, rules) is None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
