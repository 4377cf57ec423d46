"""Every request the catalogue flow sends Auvo uses only what the blueprint lists for it.

Auvo's blueprint lists the attributes of `POST /products/`, `PATCH /products/{id}`, `POST /services/`
and `PATCH /services/{id}` (name, type) under `+ Attributes`; they are read from the document here,
and every body the writer puts on the wire (captured from the real AuvoClient talking to the
simulator) must name only those, with values of their type; a patch is a JSON Patch of `replace`
ops on them. The simulator's answers to those writes must carry every key of the blueprint's examples.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.catalog.auvo_catalog_writer import BlingProdutoToAuvoItem
from consumers.catalog.auvo_items import catalog_item, create_body, patch_ops
from contracts.events import BlingProduto, bling_product_changed
from infra.auvo.client import AuvoClient
from infra.store import Store
from tests.contract.test_auvo_sim_blueprint import example_bodies, missing_keys, section
from tests.support import Simulators

JSON_TYPES = {"string": (str,), "number": (int, float), "boolean": (bool,), "array": (list,)}
WRITES = {
    ("POST", "products"): "Add a new Product [POST",
    ("PATCH", "products"): "Edit a Product [PATCH",
    ("POST", "services"): "Add a new Service [POST",
    ("PATCH", "services"): "Edit a Service [PATCH",
}


# the write answers' own examples are cut short in the document (their closing brace is dedented):
# the resource's model example, which they repeat, is the reference
MODELS = {
    "products": example_bodies("## Product [/products/{id}]")[0],
    "services": example_bodies("## Service [/services/{id}]")[0],
}


def attributes(title: str) -> dict[str, str]:
    """The top-level `+ name (required, type) - ...` lines of a section's `+ Attributes`."""
    block = section(title).split("+ Attributes", 1)[1].split("+ Request", 1)[0]
    out = {}
    for match in re.finditer(r"^ {4}\+ (\w+)\s*\(([^)]*)\)", block, re.M):
        kind = match.group(2).split(",")[-1].strip()
        out[match.group(1).lower()] = "array" if kind.startswith("array") else kind
    return out


def body_errors(write: tuple[str, str], body: Any) -> list[str]:
    allowed = attributes(WRITES[write])
    values = (
        {op["path"]: op["value"] for op in body if op.get("op") == "replace"}
        if write[0] == "PATCH"
        else body
    )
    if write[0] == "PATCH" and len(values) != len(body):
        return ["a patch op other than replace"]
    errors = []
    for key, value in values.items():
        kind = allowed.get(key.lower())
        if kind is None:
            errors.append(f"{key}: not an attribute of {WRITES[write]}")
        elif (isinstance(value, bool) and kind == "number") or not isinstance(value, JSON_TYPES[kind]):
            errors.append(f"{key}: {value!r} is not a {kind}")
    return errors


PRODUTOS = [
    {"id": 1, "nome": "Filtro", "codigo": "F-1", "preco": 35.9, "precoCusto": 12, "tipo": "P",
     "situacao": "A", "estoque": {"saldoVirtualTotal": 8}},
    {"id": 2, "nome": "Óleo 5W30 (litro)", "preco": 49.5, "tipo": "P", "situacao": "I",
     "estoque": {"saldoVirtualTotal": 2.5}},
    {"id": 3, "nome": "Mão de obra", "codigo": "MO", "preco": 120, "tipo": "S", "situacao": "A"},
    {"id": 4, "nome": "Serviço 06 21 22", "tipo": "N"},
]


def test_the_blueprint_attributes_are_read() -> None:
    assert attributes(WRITES[("POST", "products")])["unitaryvalue"] == "string"
    assert attributes(WRITES[("PATCH", "products")])["totalstock"] == "number"
    assert attributes(WRITES[("POST", "services")])["price"] == "number"
    assert "externalid" not in attributes(WRITES[("PATCH", "services")])


@pytest.mark.parametrize("record", PRODUTOS, ids=[str(p["id"]) for p in PRODUTOS])
def test_bodies_use_only_the_documented_attributes(record: dict[str, Any]) -> None:
    item = catalog_item(BlingProduto.model_validate(record))
    resource = "products" if item.kind == "product" else "services"
    assert body_errors(("POST", resource), create_body(item)) == []
    stale = {k: "x" for k in create_body(item)}
    ops = patch_ops(item, stale)
    assert ops and body_errors(("PATCH", resource), ops) == []


def test_a_wrong_body_is_caught() -> None:
    assert body_errors(("POST", "products"), {"name": "x", "code": "F-1"})
    assert body_errors(("POST", "products"), {"name": "x", "unitaryValue": 12.0})
    assert body_errors(("POST", "services"), {"title": "x", "externalId": "1"})


def test_the_writer_sends_documented_bodies_and_gets_the_documented_answers(
    sims: Simulators, tmp_path: Any
) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    auvo = AuvoClient(sims.auvo_url, sims.auvo.api_key, sims.auvo.api_token)
    sent: list[tuple[str, str, Any, dict[str, Any]]] = []
    call = auvo._call

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        response = call(method, path, **kwargs)
        if method in ("POST", "PATCH"):
            sent.append((method, path.strip("/").split("/")[0], kwargs.get("json"), response.json()))
        return response

    auvo._call = spy  # type: ignore[method-assign]
    writer = BlingProdutoToAuvoItem(store, auvo)
    try:
        for record in PRODUTOS:
            writer(bling_product_changed(record, observed_at=datetime.now(UTC)))
        for record in PRODUTOS:  # a later state of each: patched
            changed = {**record, "nome": record["nome"] + " novo", "preco": 99.0}
            writer(bling_product_changed(changed, observed_at=datetime.now(UTC)))
    finally:
        auvo.close()
    assert {(m, r) for m, r, _, _ in sent} == set(WRITES)
    for method, resource, body, answer in sent:
        assert body_errors((method, resource), body) == [], (method, resource, body)
        assert missing_keys(MODELS[resource], answer) == [], (method, resource)
