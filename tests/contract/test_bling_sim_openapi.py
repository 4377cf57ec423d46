"""Every Bling simulator answer validates against its response schema in Bling's OpenAPI document.

Why: the integration will also meet independent Bling fakes built from this document, and the real
Bling. A simulator answer outside the document could teach our client to depend on a shape nobody else
produces. Responses are validated with OpenAPI 3.0 *read* semantics (`OAS30ReadValidator`: required
`readOnly` properties must be there, `writeOnly` ones need not).

Two places where the document is not usable literally, and what we check instead:
- `ErrorResponse` lists `required: ["error.type", "message", "description"]` beside a single `error`
  property (a mistake: Bling's body is `{"error": {...}}`), so error bodies are checked as
  `{"error": <Error>}` against the `Error` schema.
- GET /propostas-comerciais/{id}, POST and PUT /contas/pagar declare their schema without the `data`
  wrapper that every other answer (and the README's "201 {"data": {"id"}}") has; there `data` is
  validated against the declared schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30ReadValidator
from starlette.testclient import TestClient

from simulators.bling import BlingState, create_bling_app
from simulators.documents import BLING_OPENAPI, spec_file
from simulators.seed import seed_bling_contacts, seed_bling_extras

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DOC = json.loads(spec_file(BLING_OPENAPI).read_text("utf-8"))  # our own copy: tests may adapt it
UNWRAPPED_IN_DOC = {
    ("get", "/propostas-comerciais/{idPropostaComercial}", "200"),
    ("post", "/contas/pagar", "201"),
    ("put", "/contas/pagar/{idContaPagar}", "200"),
}
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


def validator(schema: dict[str, Any]) -> Any:
    return OAS30ReadValidator({"allOf": [schema], "components": DOC["components"]})


def check(method: str, template: str, response: httpx.Response) -> None:
    """The status is one the operation documents, and the body matches that status's schema."""
    operation = DOC["paths"][template][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {template} answered undocumented {status}"
    content = operation["responses"][status].get("content")
    if content is None:
        assert response.content == b"", f"{method.upper()} {template} {status} should have no body"
        return
    schema = content["application/json"]["schema"]
    body = response.json()
    if schema.get("$ref", "").endswith("/ErrorResponse"):
        assert set(body) == {"error"}
        errors = list(validator(ERROR_SCHEMA).iter_errors(body["error"]))
    elif (method, template, status) in UNWRAPPED_IN_DOC:
        assert set(body) == {"data"}
        errors = list(validator(schema).iter_errors(body["data"]))
    else:
        errors = list(validator(schema).iter_errors(body))
    assert not errors, f"{method.upper()} {template} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[TestClient, dict[str, str], BlingState]]:
    state = BlingState(rate_limit_per_second=100_000)
    state.register_app("c", "s", "http://localhost/cb")
    seed_bling_contacts(state, 40, rng_seed=13)
    seed_bling_extras(state, rng_seed=13)
    with TestClient(create_bling_app(state)) as client:
        yield client, {"Authorization": f"Bearer {state.grant_tokens('c')['access_token']}"}, state


def first_contact(state: BlingState) -> int:
    return min(state.contacts)


def bodies(state: BlingState) -> dict[str, dict[str, Any]]:
    """A valid request body per resource, as a client following the document would send it."""
    contact = first_contact(state)
    item = {
        "codigo": "FA-01",
        "unidade": "UN",
        "quantidade": 2,
        "valor": 35.9,
        "valorLista": 35.9,
        "descricao": "Filtro de ar",
    }
    return {
        "contatos": {
            "nome": "Contrato Ltda",
            "codigo": "CT-1",
            "situacao": "A",
            "numeroDocumento": "11444777000161",
            "telefone": "(62) 3333-4444",
            "celular": "(62) 99999-8888",
            "tipo": "J",
            "indicadorIe": 9,
            "email": "contrato@example.com",
            "endereco": {
                "geral": {
                    "endereco": "Rua 1",
                    "cep": "74000-000",
                    "bairro": "Centro",
                    "municipio": "Goiânia",
                    "uf": "GO",
                    "numero": "10",
                    "complemento": "",
                }
            },
        },
        "produtos": {
            "nome": "Filtro",
            "codigo": "FA-9",
            "preco": 35.9,
            "tipo": "P",
            "situacao": "A",
            "formato": "S",
            "unidade": "UN",
        },
        "pedidos/vendas": {
            "contato": {"id": contact},
            "data": "2024-05-10",
            "dataSaida": "2024-05-10",
            "dataPrevista": "2024-05-12",
            "itens": [item],
            "parcelas": [
                {"id": 0, "dataVencimento": "2024-06-10", "valor": 71.8, "formaPagamento": {"id": 1}}
            ],
        },
        "propostas-comerciais": {
            "contato": {"id": contact},
            "data": "2024-05-10",
            "itens": [item],
            "parcelas": [{"dataVencimento": "2024-06-10", "valor": 71.8}],
        },
        "contas/pagar": {
            "vencimento": "2024-06-10",
            "valor": 71.8,
            "contato": {"id": contact},
            "historico": "Compra de filtros",
        },
    }


RESOURCES = [
    ("contatos", "/contatos", "/contatos/{idContato}"),
    ("produtos", "/produtos", "/produtos/{idProduto}"),
    ("pedidos/vendas", "/pedidos/vendas", "/pedidos/vendas/{idPedidoVenda}"),
    ("propostas-comerciais", "/propostas-comerciais", "/propostas-comerciais/{idPropostaComercial}"),
    ("contas/pagar", "/contas/pagar", "/contas/pagar/{idContaPagar}"),
]


@pytest.mark.parametrize(("resource", "collection", "item"), RESOURCES, ids=[r for r, _, _ in RESOURCES])
def test_crud_answers_match_the_document(
    api: tuple[TestClient, dict[str, str], BlingState], resource: str, collection: str, item: str
) -> None:
    client, auth, state = api
    url = f"/Api/v3/{resource}"
    listed = client.get(url, headers=auth, params={"limite": 100})
    check("get", collection, listed)
    assert listed.json()["data"]
    empty = client.get(url, headers=auth, params={"pagina": 99})
    check("get", collection, empty)
    assert empty.json() == {"data": []}

    body = bodies(state)[resource]
    created = client.post(url, headers=auth, json=body)
    check("post", collection, created)
    assert created.status_code == 201
    new_id = created.json()["data"]["id"]

    for record_id in (new_id, listed.json()["data"][0]["id"]):
        check("get", item, client.get(f"{url}/{record_id}", headers=auth))
    check("put", item, client.put(f"{url}/{new_id}", headers=auth, json=body))
    check("get", item, client.get(f"{url}/{new_id}", headers=auth))
    check("delete", item, client.delete(f"{url}/{new_id}", headers=auth))


@pytest.mark.parametrize(("resource", "collection", "item"), RESOURCES, ids=[r for r, _, _ in RESOURCES])
def test_documented_errors_match_the_document(
    api: tuple[TestClient, dict[str, str], BlingState], resource: str, collection: str, item: str
) -> None:
    client, auth, _ = api
    url = f"/Api/v3/{resource}"
    invalid = client.post(url, headers=auth, json={"situacao": "nope"})
    assert invalid.status_code == 400
    check("post", collection, invalid)
    missing = client.get(f"{url}/1", headers=auth)
    assert missing.status_code == 404
    if "404" in DOC["paths"][item]["get"]["responses"]:
        check("get", item, missing)
    put_missing = client.put(f"{url}/1", headers=auth, json=bodies(api[2])[resource])
    assert put_missing.status_code == 404
    if "404" in DOC["paths"][item]["put"]["responses"]:
        check("put", item, put_missing)


def test_filtered_contact_lists_match_the_document(
    api: tuple[TestClient, dict[str, str], BlingState],
) -> None:
    client, auth, state = api
    some = state.contacts[first_contact(state)]
    for params in (
        {"numeroDocumento": some["numeroDocumento"] or "0"},
        {"pesquisa": some["nome"][:4]},
        {"dataAlteracaoInicial": "2000-01-01 00:00:00", "dataAlteracaoFinal": "2100-01-01 00:00:00"},
        {"idsContatos[]": str(some["id"])},
        {"criterio": 2},
    ):
        check("get", "/contatos", client.get("/Api/v3/contatos", headers=auth, params=params))


def test_auth_errors_use_blings_error_envelope(api: tuple[TestClient, dict[str, str], BlingState]) -> None:
    """401/403/429 are not in the document; they still carry Bling's `error` object."""
    client, _, state = api
    r = client.get("/Api/v3/contatos")
    assert r.status_code == 401
    error = r.json()["error"]
    assert set(error) == {"type", "message", "description"} and all(
        isinstance(v, str) for v in error.values()
    )
    state.register_app("narrow", "s", "http://localhost/cb", scopes=["produtos"])
    narrow = {"Authorization": f"Bearer {state.grant_tokens('narrow')['access_token']}"}
    r = client.get("/Api/v3/contatos", headers=narrow)
    assert r.status_code == 403 and r.json()["error"]["type"] == "insufficient_scope"
