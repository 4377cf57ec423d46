"""Bling's OpenAPI document as the simulator reads it: request bodies validated as Bling does."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator

# --- the OpenAPI document -------------------------------------------------------------------------


@lru_cache(maxsize=4)
def load_openapi(path: str) -> dict[str, Any]:
    """Parse the document once per process; it is only ever read."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class SchemaBook:
    """Request validators and list-item field names, derived from the document per operation."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self._validators: dict[tuple[str, str], Any] = {}

    def operation(self, method: str, path: str) -> dict[str, Any]:
        return self.doc["paths"][path][method.lower()]

    def request_validator(self, method: str, path: str) -> Any:
        """OAS30Validator (no read/write flag: skips required readOnly, ignores readOnly sent)."""
        key = (method, path)
        if key not in self._validators:
            schema = self.operation(method, path)["requestBody"]["content"]["application/json"]["schema"]
            wrapper = {"allOf": [schema], "components": self.doc["components"]}
            self._validators[key] = OAS30Validator(wrapper)
        return self._validators[key]

    def list_item_keys(self, path: str) -> tuple[str, ...]:
        """Property names of the list answer's items, in the document's order."""
        schema = self.operation("get", path)["responses"]["200"]["content"]["application/json"]["schema"]
        return tuple(self._property_names(schema["properties"]["data"]["items"]))

    def _property_names(self, schema: dict[str, Any]) -> list[str]:
        if "$ref" in schema:
            return self._property_names(self._resolve(schema["$ref"]))
        names = list(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            names += [n for n in self._property_names(part) if n not in names]
        return names

    def _resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node


def schema_errors(validator: Any, body: Any, namespace: str) -> list[dict[str, Any]]:
    """jsonschema errors -> Bling's `fields[]`, grouping errors inside arrays under `collection`."""
    fields: list[dict[str, Any]] = []
    by_array: dict[str, dict[str, Any]] = {}
    for error in sorted(_leaf_errors(validator.iter_errors(body)), key=lambda e: list(map(str, e.path))):
        code, element_path, msg = _describe(error)
        index_pos = next((i for i, p in enumerate(element_path) if isinstance(p, int)), None)
        if index_pos is None:
            element = ".".join(map(str, element_path))
            fields.append({"code": code, "msg": msg, "element": element, "namespace": namespace,
                           "collection": []})
            continue
        array = ".".join(map(str, element_path[:index_pos]))
        field = by_array.get(array)
        if field is None:
            field = {"code": code, "msg": f"Um ou mais itens de {array} possuem erros de validação",
                     "element": array, "namespace": namespace, "collection": []}
            by_array[array] = field
            fields.append(field)
        field["collection"].append({
            "index": element_path[index_pos], "code": code, "msg": msg,
            "element": ".".join(map(str, element_path[index_pos + 1 :])), "namespace": namespace,
        })
    return fields


def _leaf_errors(errors: Any) -> list[ValidationError]:
    out: list[ValidationError] = []
    for error in errors:
        if error.context and error.validator in ("oneOf", "anyOf"):
            out.append(error)  # keep the summary, not every branch's complaint
        elif error.context:
            out.extend(_leaf_errors(error.context))
        else:
            out.append(error)
    return out


def _describe(error: ValidationError) -> tuple[int, list[Any], str]:
    path = list(error.path)
    if error.validator == "required" and isinstance(error.instance, dict):
        match = re.match(r"^'(.+)' is a required property", error.message)
        missing = match.group(1) if match else ""
        full = [*path, missing]
        return 1, full, f"O campo {'.'.join(map(str, full))} é obrigatório"
    where = ".".join(map(str, path)) or "corpo"
    if error.validator == "type":
        return 2, path, f"O campo {where} deve ser do tipo {error.validator_value}"
    if error.validator == "enum":
        options = ", ".join(map(str, error.validator_value))
        return 3, path, f"O campo {where} deve ter um dos valores: {options}"
    return 4, path, f"O campo {where} é inválido: {error.message}"
