"""The job's outcome as the Auvo task shows it (issue 17, item 3): pure translation, no I/O.

A pedido de venda we created for a task is *attended*, *cancelled* or *invoiced* (a nota fiscal
was issued for it) in Bling. The task then shows the pedido's number as its `externalId` and the
state as one Auvo keyword the company chose per state. Auvo's `keyWords` is one list that a PATCH
replaces whole, so the company's own keywords on the task are kept and only ours are swapped.

The PATCH changes the task's `dateLastUpdate`, and the task comes back through the task poller or
webhook as a change. `task_content_fingerprint` is the task without what our PATCH touches: equal
before and after it, so the task flow recognises the echo and never re-writes the pedido for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from consumers.sales.mapping import TASK_MARKER_PREFIX
from contracts.events import AuvoTask
from contracts.order_outcomes import JobOutcome

# the keyword created in Auvo for a state whose keyword id the company left empty
DEFAULT_KEYWORDS: dict[JobOutcome, str] = {
    JobOutcome.attended: "Pedido atendido",
    JobOutcome.cancelled: "Pedido cancelado",
    JobOutcome.invoiced: "Nota fiscal emitida",
}

# what our PATCH writes on the task: left out of the echo fingerprint
PATCHED_FIELDS = frozenset({"externalId", "keyWords", "keyWordsDescriptions", "dateLastUpdate"})


def task_id_of_store_number(store_number: str | None) -> str | None:
    """The Auvo task id a pedido's `numeroLoja` (a nota's `numeroPedidoLoja`) names, if ours."""
    text = (store_number or "").strip()
    if not text.startswith(TASK_MARKER_PREFIX):
        return None
    task_id = text[len(TASK_MARKER_PREFIX) :]
    return task_id if task_id.isdigit() else None


def task_keywords(
    current: Sequence[Any], ours: Mapping[JobOutcome, str], outcome: JobOutcome | None
) -> list[str]:
    """The task's keywords with ours swapped for the one of `outcome` (theirs kept, in order)."""
    mine = set(ours.values())
    kept = [str(k) for k in current if str(k) not in mine]
    return kept + ([ours[outcome]] if outcome is not None else [])


def outcome_patch(order_number: str, keywords: list[str]) -> list[dict[str, Any]]:
    """The JSON Patch document of `PATCH /tasks/{id}` (blueprint "Edit a Task": TaskPatch's
    `externalId` string and `keyWords` list of keyword ids)."""
    return [
        {"op": "replace", "path": "externalId", "value": order_number},
        {"op": "replace", "path": "keyWords", "value": keywords},
    ]


def outcome_fingerprint(order_number: str, outcome: JobOutcome | None, keyword: str | None) -> str:
    """What we last showed on the task: the same state twice is one PATCH."""
    canonical = json.dumps([order_number, outcome.value if outcome else None, keyword])
    return hashlib.sha256(canonical.encode()).hexdigest()


def task_content_fingerprint(task: AuvoTask | Mapping[str, Any]) -> str:
    """The task as the task flow reads it, without the fields our outcome PATCH writes."""
    model = task if isinstance(task, AuvoTask) else AuvoTask.model_validate(task)
    content = model.model_dump(mode="json", exclude=set(PATCHED_FIELDS))
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
