"""Every request of the job outcome flow (issue 17, item 3) checked against Auvo's blueprint.

`PATCH /tasks/{id}` takes a JSON Patch document over the `TaskPatch` attributes the blueprint's
"Edit a Task" lists (`externalId` string, `keyWords` array of keyword ids as strings);
`POST /keywords/` a body with the required `description`. The attribute lists are read from the
document itself, so a body naming an attribute the blueprint does not have fails here. The
simulator's answers are checked too: it refuses what the document does not allow.
"""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from consumers.sales.outcome import outcome_patch, task_keywords
from contracts.order_outcomes import JobOutcome
from simulators.auvo import AuvoState, create_auvo_app
from simulators.documents import AUVO_BLUEPRINT, spec_file

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

APIB = spec_file(AUVO_BLUEPRINT).read_text(encoding="utf-8")


def attributes(heading: str) -> dict[str, str]:
    """`+ name (type) - ...` lines under `+ Attributes` of the section `### <heading>`: name -> type."""
    start = APIB.index(f"### {heading}")
    end = APIB.index("+ Request", start)
    found = re.findall(r"^\s+\+ (\w+) \((?:required, )?([\w\[\]]+)\)", APIB[start:end], re.M)
    return dict(found)


TASK_PATCH = attributes("Edit a Task [PATCH /tasks/{id}]")
KEYWORD_POST = attributes("Add a new Keyword [POST /keywords/]")
JSON_TYPES = {"string": str, "number": int, "array[string]": list, "boolean": bool}


def test_the_blueprint_lists_the_attributes_we_patch() -> None:
    assert TASK_PATCH["externalId"] == "string"
    assert TASK_PATCH["keyWords"] == "array[string]"
    assert KEYWORD_POST == {"description": "string"}


@pytest.mark.parametrize("outcome", [*JobOutcome, None])
def test_the_outcome_patch_is_a_json_patch_of_task_patch_attributes(outcome: JobOutcome | None) -> None:
    ours = {JobOutcome.attended: "41", JobOutcome.cancelled: "42", JobOutcome.invoiced: "43"}
    body = outcome_patch("1042", task_keywords(["7", "41"], ours, outcome))
    for op in body:
        assert set(op) == {"op", "path", "value"}
        assert op["op"] == "replace"
        kind = TASK_PATCH[op["path"]]
        assert isinstance(op["value"], JSON_TYPES[kind])
        if kind == "array[string]":
            assert all(isinstance(v, str) for v in op["value"])


def test_the_simulator_applies_the_patch_and_refuses_what_the_blueprint_does_not_allow() -> None:
    state = AuvoState(api_key="k", api_token="t")
    customer = state.add_customer("Clínica Sorriso Ltda")
    task = state.add_task(customer["id"], finished=True, keyWords=["7"])
    with TestClient(create_auvo_app(state)) as http:
        login = http.get("/v2/login/", params={"apiKey": "k", "apiToken": "t"})
        token = login.json()["result"]["accessToken"]
        auth = {"Authorization": f"Bearer {token}"}
        made = http.post("/v2/keywords/", json={"description": "Pedido atendido"}, headers=auth)
        assert made.status_code == 201
        keyword = str(made.json()["result"]["id"])
        body = outcome_patch("1042", ["7", keyword])
        answer = http.patch(f"/v2/tasks/{task['taskID']}", json=body, headers=auth)
        assert answer.status_code == 200
        result = answer.json()["result"]
        assert result["externalId"] == "1042"
        assert result["keyWords"] == ["7", keyword]
        assert result["keyWordsDescriptions"][1] == "Pedido atendido"
        wrong = [{"op": "replace", "path": "products", "value": []}]
        assert http.patch(f"/v2/tasks/{task['taskID']}", json=wrong, headers=auth).status_code == 400
        path = f"/v2/tasks/{task['taskID']}"
        assert http.patch(path, json={"externalId": "1"}, headers=auth).status_code == 400
        assert http.post("/v2/keywords/", json={}, headers=auth).status_code == 400
        assert http.patch("/v2/tasks/1", json=body, headers=auth).status_code == 404


def test_the_bling_simulators_nota_fiscal_has_the_openapi_fields() -> None:
    """`GET /nfe/{id}` answers NotasFiscaisDadosGetDTO's fields, `numeroPedidoLoja` (the pedido's
    `numeroLoja`) among them: what the outcome writer reads to find a nota's pedido."""
    import json

    from simulators.bling import BlingState
    from simulators.documents import BLING_OPENAPI

    schemas = json.loads(spec_file(BLING_OPENAPI).read_text(encoding="utf-8"))["components"]["schemas"]

    def properties(name: str) -> set[str]:
        schema = schemas[name]
        found: set[str] = set()
        for part in schema.get("allOf", [schema]):
            ref = part.get("$ref")
            found |= properties(ref.rsplit("/", 1)[-1]) if ref else set(part.get("properties", {}))
        return found

    state = BlingState()
    contact = state.add_contact(nome="Clínica Sorriso Ltda", numeroDocumento="11444777000161")
    order = state.add_record(
        "pedidos/vendas", {"contato": {"id": contact["id"]}, "numeroLoja": "AUVO-TASK-1"}
    )
    invoice = state.issue_invoice(order["id"])
    # GET /nfe/{idNotaFiscal} answers the base fields and the GET ones
    assert set(invoice) <= properties("NotasFiscaisDadosBaseDTO") | properties("NotasFiscaisDadosGetDTO")
    assert invoice["numeroPedidoLoja"] == "AUVO-TASK-1"
    assert state.records["pedidos/vendas"][order["id"]]["notaFiscal"] == {"id": invoice["id"]}
