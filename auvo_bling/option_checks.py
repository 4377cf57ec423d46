"""The guide's optional filters name Auvo records by id; a typo would silently filter out every
task. So the ids in `tasks.task_types` and `tasks.customer_group` are checked against Auvo at
start, and an unknown one stops the program with the list of the ones that exist."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from infra.errors import ConfigurationError
from infra.settings import TaskSettings


class AuvoCatalog(Protocol):
    def iter_task_types(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...
    def iter_customer_groups(
        self, param_filter: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]: ...


def _listing(records: Iterable[dict[str, Any]]) -> str:
    return ", ".join(f"{r.get('id')} ({r.get('description', '')})" for r in records) or "none"


def check_task_options(tasks: TaskSettings, auvo: AuvoCatalog) -> None:
    """Raise ConfigurationError naming the unknown ids and the ones Auvo has."""
    if not tasks.enabled:
        return
    problems = []
    if tasks.task_types:
        types = list(auvo.iter_task_types())
        unknown = sorted(set(tasks.task_types) - {int(t["id"]) for t in types if t.get("id") is not None})
        if unknown:
            problems.append(
                f"tasks.task_types [AUVO_BLING_TASKS__TASK_TYPES]: no Auvo task type {unknown}; "
                f"the task types are: {_listing(types)}"
            )
    if tasks.customer_group is not None:
        groups = list(auvo.iter_customer_groups())
        if tasks.customer_group not in {int(g["id"]) for g in groups if g.get("id") is not None}:
            problems.append(
                f"tasks.customer_group [AUVO_BLING_TASKS__CUSTOMER_GROUP]: no Auvo customer group "
                f"{tasks.customer_group}; the groups are: {_listing(groups)}"
            )
    if problems:
        raise ConfigurationError("; ".join(problems))
