"""The choices the guide fills from Auvo: task types, customer groups, the stages quotations show."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from producers.task_selection import quote_stage

# reading quotations only to list their stages: a bounded look, not a full scan
QUOTATIONS_LOOKED_AT = 500


class AuvoLists(Protocol):
    def iter_task_types(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...
    def iter_customer_groups(
        self, param_filter: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]: ...
    def iter_quotations(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class Listed:
    value: str
    label: str


def _by_id(records: Iterator[dict[str, Any]]) -> list[Listed]:
    out = [
        Listed(str(r["id"]), str(r.get("description") or r["id"])) for r in records if r.get("id") is not None
    ]
    return sorted(out, key=lambda item: item.label.lower())


def choices_from_auvo(auvo: AuvoLists, sources: set[str]) -> dict[str, list[Listed]]:
    """The lists named by the option table's `choices_source` (only those asked for)."""
    lists: dict[str, list[Listed]] = {}
    if "auvo.task_types" in sources:
        lists["auvo.task_types"] = _by_id(auvo.iter_task_types())
    if "auvo.customer_groups" in sources:
        lists["auvo.customer_groups"] = _by_id(auvo.iter_customer_groups())
    if "auvo.quote_stages" in sources:
        stages = {}
        for quote in islice(auvo.iter_quotations(), QUOTATIONS_LOOKED_AT):
            description = quote_stage(quote).get("description")
            if description:
                stages[str(description)] = Listed(str(description), str(description))
        lists["auvo.quote_stages"] = sorted(stages.values(), key=lambda item: item.label.lower())
    return lists
