"""The guide's optional filters name Auvo records by id; a typo would silently filter out every
task. So the ids in `tasks.task_types` and `tasks.customer_group` (and the job outcome's keyword
ids, `tasks.keyword_*`) are checked against Auvo at start, and an unknown one stops the program
with the list of the ones that exist."""

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
    def iter_keywords(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...


def _listing(records: Iterable[dict[str, Any]]) -> str:
    return ", ".join(f"{r.get('id')} ({r.get('description', '')})" for r in records) or "none"


def check_task_options(tasks: TaskSettings, auvo: AuvoCatalog) -> None:
    """Raise ConfigurationError naming the unknown ids and the ones Auvo has."""
    problems = task_option_problems(tasks, auvo)
    if problems:
        raise ConfigurationError("; ".join(problems.values()))


def task_option_problems(tasks: TaskSettings, auvo: AuvoCatalog) -> dict[str, str]:
    """The unknown ids by option key (`tasks.task_types`, `tasks.customer_group`), for start and forms."""
    if not tasks.enabled:
        return {}
    problems: dict[str, str] = {}
    if tasks.task_types:
        types = list(auvo.iter_task_types())
        unknown = sorted(set(tasks.task_types) - {int(t["id"]) for t in types if t.get("id") is not None})
        if unknown:
            problems["tasks.task_types"] = (
                f"tasks.task_types [AUVO_BLING_TASKS__TASK_TYPES]: no Auvo task type {unknown}; "
                f"the task types are: {_listing(types)}"
            )
    if tasks.customer_group is not None:
        groups = list(auvo.iter_customer_groups())
        if tasks.customer_group not in {int(g["id"]) for g in groups if g.get("id") is not None}:
            problems["tasks.customer_group"] = (
                f"tasks.customer_group [AUVO_BLING_TASKS__CUSTOMER_GROUP]: no Auvo customer group "
                f"{tasks.customer_group}; the groups are: {_listing(groups)}"
            )
    problems.update(_outcome_keyword_problems(tasks, auvo))
    return problems


def _outcome_keyword_problems(tasks: TaskSettings, auvo: AuvoCatalog) -> dict[str, str]:
    """A keyword id of the job outcome (`tasks.keyword_*`) that Auvo does not have would make every
    outcome PATCH fail: named at start with the keywords that exist (empty ids are created later)."""
    if not tasks.outcome:
        return {}
    configured = {
        name: getattr(tasks, name)
        for name in ("keyword_attended", "keyword_cancelled", "keyword_invoiced")
        if getattr(tasks, name) is not None
    }
    if not configured:
        return {}
    keywords = list(auvo.iter_keywords())
    known = {int(k["id"]) for k in keywords if k.get("id") is not None}
    return {
        f"tasks.{name}": (
            f"tasks.{name} [AUVO_BLING_TASKS__{name.upper()}]: no Auvo keyword {kid}; "
            f"the keywords are: {_listing(keywords)}"
        )
        for name, kid in configured.items()
        if kid not in known
    }
