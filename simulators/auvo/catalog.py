"""Writes of Auvo's products and services, as the blueprint lists their attributes.

`POST /products/` and `PATCH /products/{id}` ("Add a new Product", "Edit a Product"), `POST /services/`
and `PATCH /services/{id}` ("Add a new Service", "Edit a Service"). A request naming an attribute the
blueprint does not list, or with a value of the wrong type, is answered 400 as Auvo's model binding
does, so a client relying on something only our fake accepts fails here first. A patch is a JSON
Patch array of `replace`/`add` ops whose `path` is one attribute.
"""

from __future__ import annotations

from typing import Any

from simulators.auvo.common import AuvoValidationError

# attribute (lowercase) -> (spelling stored, type) for each request, from the blueprint's Attributes
_TEXT, _NUMBER, _BOOL, _LIST = "string", "number", "boolean", "array"
PRODUCT_CREATE: dict[str, tuple[str, str]] = {
    "name": ("name", _TEXT),
    "externalid": ("externalId", _TEXT),
    "description": ("description", _TEXT),
    "categoryid": ("categoryId", _NUMBER),
    "associatedequipmentid": ("associatedEquipmentId", _NUMBER),
    "unitaryvalue": ("unitaryValue", _TEXT),
    "unitarycost": ("unitaryCost", _TEXT),
    "minimumstock": ("minimumStock", _NUMBER),
    "totalstock": ("totalStock", _NUMBER),
    "active": ("active", _BOOL),
    "base64image": ("Base64Image", _TEXT),
    "productspecifications": ("productSpecifications", _LIST),
    "employeesstock": ("employeesStock", _LIST),
    "attachments": ("attachments", _LIST),
}
PRODUCT_PATCH = {k: v for k, v in PRODUCT_CREATE.items() if v[1] != _LIST}
SERVICE_WRITE: dict[str, tuple[str, str]] = {
    "title": ("title", _TEXT),
    "description": ("description", _TEXT),
    "price": ("price", _NUMBER),
    "active": ("active", _BOOL),
    "fiscalserviceid": ("fiscalServiceId", _TEXT),
}
REQUIRED = {"products": "name", "services": "title"}


def _typed(name: str, kind: str, value: Any) -> Any:
    ok = {
        _TEXT: isinstance(value, str),
        # the blueprint's own service example sends the price as "12.34"
        _NUMBER: (isinstance(value, int | float) and not isinstance(value, bool))
        or (isinstance(value, str) and _numeric(value)),
        _BOOL: isinstance(value, bool),
        _LIST: isinstance(value, list),
    }[kind]
    if value is not None and not ok:
        raise AuvoValidationError({name: [f"The value '{value}' is not valid for {name}."]})
    return value


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def create_fields(resource: str, body: Any) -> dict[str, Any]:
    """The stored fields of a create body; 400 on an unknown attribute, a bad type, no name/title."""
    if not isinstance(body, dict) or not body:
        raise AuvoValidationError({"": ["A non-empty request body is required."]})
    allowed = PRODUCT_CREATE if resource == "products" else SERVICE_WRITE
    fields: dict[str, Any] = {}
    for key, value in body.items():
        known = allowed.get(str(key).lower())
        if known is None:
            raise AuvoValidationError({str(key): [f"'{key}' is not an attribute of the request."]})
        fields[known[0]] = _typed(known[0], known[1], value)
    required = REQUIRED[resource]
    if not str(fields.get(required) or "").strip():
        raise AuvoValidationError({required: [f"The {required} field is required."]})
    fields.pop("attachments", None)
    return fields


def patch_fields(resource: str, body: Any) -> dict[str, Any]:
    """The changes of a JSON Patch document on a product or service."""
    if not isinstance(body, list) or not body:
        raise AuvoValidationError({"": ["The JSON patch document must be a non-empty array."]})
    allowed = PRODUCT_PATCH if resource == "products" else SERVICE_WRITE
    changes: dict[str, Any] = {}
    for i, op in enumerate(body):
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("replace", "add"):
            raise AuvoValidationError({f"[{i}]": ["Only 'replace' and 'add' operations are supported."]})
        raw_path = str(op.get("path", "")).strip("/")
        known = allowed.get(raw_path.lower())
        if known is None:
            raise AuvoValidationError({"path": [f"The target location '{raw_path}' was not found."]})
        changes[known[0]] = _typed(known[0], known[1], op.get("value"))
    required = REQUIRED[resource]
    if required in changes and not str(changes[required] or "").strip():
        raise AuvoValidationError({required: [f"The {required} field is required."]})
    return changes
