"""Field validation as Auvo does it: the webhook vocabulary, customer fields coerced or rejected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulators.auvo.common import CUSTOMER_FIELDS, AuvoValidationError

# The blueprint's webhook vocabulary: registration uses entity Task/Customer/User (or 4/7/1) and
# actions Inclusao/Alteracao/Exclusao (or 1/2/3); the notifier's EntityType is Portuguese.
WEBHOOK_ENTITIES = {"task": "Task", "4": "Task", "customer": "Customer", "7": "Customer", "user": "User",
                    "1": "User"}
WEBHOOK_ACTIONS = {"inclusao": "Inclusao", "1": "Inclusao", "alteracao": "Alteracao", "2": "Alteracao",
                   "exclusao": "Exclusao", "3": "Exclusao"}
NOTIFIER_ENTITY_TYPES = {"Task": "Tarefas", "Customer": "Cliente", "User": "Usuarios"}


def _canonical(value: Any, names: dict[str, str]) -> str:
    key = str(value).strip().lower()
    if key not in names:
        raise AuvoValidationError({"entity" if names is WEBHOOK_ENTITIES else "action": _not_valid(value)})
    return names[key]


# --- customer field validation --------------------------------------------------------------------

_CANONICAL = {name.lower(): name for name in (*CUSTOMER_FIELDS, "name", "attachments")}


def _normalize_customer_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Map keys case-insensitively to the blueprint's spelling (ASP.NET binds them that way)."""
    return {_CANONICAL.get(k.lower(), k): v for k, v in fields.items()}


def _not_valid(value: Any) -> list[str]:
    return [f"The value '{value}' is not valid."]


def _coerce_field(name: str, value: Any) -> Any:
    """Validate one customer field; returns the stored value or raises AuvoValidationError."""
    kind = _FIELD_KINDS.get(name)
    if kind is None:
        return value
    coerced = kind(value)
    if coerced is _INVALID:
        raise AuvoValidationError({name: _not_valid(value)})
    return coerced


_INVALID = object()


def _as_str(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return _INVALID


def _as_int(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return _INVALID


def _as_number(value: Any) -> Any:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return _INVALID
    try:
        return float(value)
    except (TypeError, ValueError):
        return _INVALID


def _as_bool(value: Any) -> Any:
    if value is None:
        return True
    return value if isinstance(value, bool) else _INVALID


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            return _INVALID
        out = [item(v) for v in value]
        return _INVALID if any(v is _INVALID for v in out) else out

    return convert


def _as_str_strict(value: Any) -> Any:
    return value if isinstance(value, str) else _INVALID


def _as_int_strict(value: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID


_FIELD_KINDS: dict[str, Callable[[Any], Any]] = {
    "externalId": _as_str, "description": _as_str, "cpfCnpj": _as_str,
    "phoneNumber": _list_of(_as_str_strict), "email": _list_of(_as_str_strict), "manager": _as_str,
    "managerJobPosition": _as_str, "note": _as_str, "address": _as_str, "latitude": _as_number,
    "longitude": _as_number, "maximumVisitTime": _as_int, "unitMaximumTime": _as_int,
    "groupsId": _list_of(_as_int_strict), "managerTeamsId": _list_of(_as_int_strict),
    "managersId": _list_of(_as_int_strict), "segmentId": _as_int, "active": _as_bool,
    "adressComplement": _as_str,
}

_WRITABLE = frozenset(_FIELD_KINDS)


def _validate_contacts(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise AuvoValidationError({"contacts": _not_valid(value)})
    errors: dict[str, list[str]] = {}
    for i, contact in enumerate(value):
        contact_norm = {k[:1].lower() + k[1:]: v for k, v in contact.items()}
        if not isinstance(contact_norm.get("name"), str) or not contact_norm["name"].strip():
            errors[f"contacts[{i}].name"] = ["The Name field is required."]
    if errors:
        raise AuvoValidationError(errors)
    return [{k[:1].lower() + k[1:]: v for k, v in c.items()} for c in value]


def _validate_attachments(value: Any) -> list[str]:
    """Attachments only need a name with an extension and a base64 payload; we keep the names."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise AuvoValidationError({"attachments": _not_valid(value)})
    names = []
    for i, att in enumerate(value):
        if not isinstance(att, dict) or not att.get("name") or not att.get("file"):
            raise AuvoValidationError({f"attachments[{i}]": ["The name and file fields are required."]})
        names.append(str(att["name"]))
    return names


def validate_customer_body(body: Any, name_field: str) -> tuple[dict[str, Any], list[str]]:
    """Check a POST (`name`) or PUT (`description`) body; returns (fields to store, attachment names)."""
    if not isinstance(body, dict):
        raise AuvoValidationError({"": ["A non-empty request body is required."]})
    fields = _normalize_customer_fields(body)
    name_value = fields.get(name_field)
    if not isinstance(name_value, str) or not name_value.strip():
        raise AuvoValidationError({name_field: [f"The {name_field.capitalize()} field is required."]})
    out: dict[str, Any] = {"description": name_value}
    errors: dict[str, list[str]] = {}
    for key, value in fields.items():
        if key in _WRITABLE and key != "description":
            try:
                out[key] = _coerce_field(key, value)
            except AuvoValidationError as exc:
                errors.update(exc.errors)
    if errors:
        raise AuvoValidationError(errors)
    if "contacts" in fields:
        out["contacts"] = _validate_contacts(fields["contacts"])
    return out, _validate_attachments(fields.get("attachments"))


def patch_operations(body: Any) -> list[tuple[str, Any]]:
    """A JSON Patch document of `replace`/`add` ops (every Auvo PATCH) -> (top-level path, value)."""
    if not isinstance(body, list) or not body:
        raise AuvoValidationError({"": ["The JSON patch document must be a non-empty array."]})
    operations: list[tuple[str, Any]] = []
    for i, op in enumerate(body):
        if not isinstance(op, dict):
            raise AuvoValidationError({f"[{i}]": _not_valid(op)})
        if str(op.get("op", "")).lower() not in ("replace", "add"):
            raise AuvoValidationError({"op": [f"The operation '{op.get('op')}' is not supported."]})
        operations.append((str(op.get("path", "")).strip("/").split("/")[0], op.get("value")))
    return operations


def validate_patch(body: Any) -> dict[str, Any]:
    """A JSON-patch list of `replace` ops on CustomerPatch attributes -> the changes to apply."""
    changes: dict[str, Any] = {}
    for raw_path, value in patch_operations(body):
        path = _CANONICAL.get(raw_path.lower(), raw_path)
        if path == "name":
            path = "description"
        if path not in _WRITABLE:
            raise AuvoValidationError({"path": [f"The target location '{raw_path}' was not found."]})
        changes[path] = _coerce_field(path, value)
    if "description" in changes and not str(changes["description"]).strip():
        raise AuvoValidationError({"description": ["The Description field is required."]})
    return changes
