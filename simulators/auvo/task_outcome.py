"""The Auvo simulator's writes for a job's outcome: `PATCH /tasks/{id}` and `POST /keywords/`.

Both as the blueprint says: the task PATCH takes a JSON Patch document (`replace`/`add` ops) on
the `TaskPatch` attributes and answers 200 with the task; `keyWords` is the list of keyword ids
(strings) and replaces the task's list; a keyword is created with its `description` (201).
"""

from __future__ import annotations

from typing import Any

from simulators.auvo.common import AuvoValidationError
from simulators.auvo.validation import _as_bool, _not_valid, patch_operations

# TaskPatch attributes (blueprint "Edit a Task"), by their lower-case spelling
TASK_PATCH_ATTRIBUTES = {
    name.lower(): name
    for name in (
        "externalId", "taskType", "idUserFrom", "idUserTo", "teamId", "taskDate", "latitude", "longitude",
        "address", "orientation", "priority", "questionnaireId", "customerId", "checkinType", "keyWords",
        "sendSatisfactionSurvey", "financialCategory",
    )
}


def _coerce(path: str, value: Any) -> Any:
    if path == "keyWords":
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise AuvoValidationError({path: _not_valid(value)})
        return [str(v) for v in value]
    if path in ("externalId", "address", "orientation", "taskDate", "financialCategory"):
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise AuvoValidationError({path: _not_valid(value)})
        return str(value)
    if path == "sendSatisfactionSurvey":
        return _as_bool(value)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise AuvoValidationError({path: _not_valid(value)})
    return value


def validate_task_patch(body: Any) -> dict[str, Any]:
    """A JSON Patch list of `replace`/`add` ops on TaskPatch attributes -> the changes to apply."""
    changes: dict[str, Any] = {}
    for raw_path, value in patch_operations(body):
        path = TASK_PATCH_ATTRIBUTES.get(raw_path.lower())
        if path is None:
            raise AuvoValidationError({"path": [f"The target location '{raw_path}' was not found."]})
        changes[path] = _coerce(path, value)
    return changes


def keyword_body(body: Any) -> str:
    """The description of a keyword to create (required, non-empty)."""
    description = body.get("description") if isinstance(body, dict) else None
    if not isinstance(description, str) or not description.strip():
        raise AuvoValidationError({"description": ["The Description field is required."]})
    return description.strip()
