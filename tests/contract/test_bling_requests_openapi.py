"""What BlingClient sends must be what Bling's OpenAPI document accepts.

Each create/update method is called with a realistic record; the request it puts on the wire is
captured, matched to its operation in `simulators/specs/bling-v3-openapi.json` by method and path template,
and its body validated against that operation's request schema with OpenAPI 3.0 *write* semantics
(readOnly properties such as `id` are not required and must not be sent; `nullable` is OpenAPI's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from infra.bling.client import BlingClient
from simulators.documents import BLING_OPENAPI, spec_file

SPEC_PATH = spec_file(BLING_OPENAPI)
SPEC_URI = "urn:bling-v3-openapi"
BASE = "https://api.bling.com.br/Api/v3"
NEW_ID = 12345678


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@cache
def registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec(), default_specification=DRAFT4))


def operation_for(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The document's path template and operation matching a concrete request path."""
    for template, item in spec()["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not an operation of the Bling OpenAPI document")


def request_validator(template: str, method: str) -> OAS30WriteValidator:
    pointer = "/".join(
        [
            "#",
            "paths",
            template.replace("~", "~0").replace("/", "~1"),
            method.lower(),
            "requestBody",
            "content",
            "application~1json",
            "schema",
        ]
    )
    return OAS30WriteValidator(
        {"$ref": SPEC_URI + pointer}, registry=registry(), format_checker=oas30_format_checker
    )


def schema_errors(method: str, url_path: str, body: Any) -> list[str]:
    template, _ = operation_for(method, url_path)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
        for e in request_validator(template, method).iter_errors(body)
    ]


class Recorder:
    """Answers every write the way the document says and keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "POST":
            return httpx.Response(201, json={"data": {"id": NEW_ID}})
        return httpx.Response(204)


class StaticTokens:
    def access_token(self) -> str:
        return "contract-test-token"

    def refreshed_after_rejection(self, rejected: str) -> str:  # pragma: no cover - never 401 here
        return "contract-test-token"


# --- realistic records, as the translators will build them ---------------------------------------

CONTACT = {
    "nome": "Terêscio Engenharia Ltda",
    "codigo": "AUVO-42",
    "situacao": "A",
    "numeroDocumento": "90614997000162",
    "telefone": "(62) 3333-4444",
    "celular": "(62) 99999-8888",
    "fantasia": "Terêscio",
    "tipo": "J",
    "indicadorIe": 9,
    "email": "terenscio@customer.com",
    "endereco": {
        "geral": {
            "endereco": "Avenida T-63",
            "numero": "1200",
            "complemento": "Sala 4",
            "bairro": "Setor Bueno",
            "cep": "74230-100",
            "municipio": "Goiânia",
            "uf": "GO",
        }
    },
    "pessoasContato": [{"id": 23328, "descricao": "Oristides (Manager)"}],
}

PRODUCT = {
    "nome": "Filtro de ar condicionado 12000 BTU",
    "codigo": "FLT-12000",
    "preco": 89.9,
    "tipo": "P",
    "situacao": "A",
    "formato": "S",
    "descricaoCurta": "Filtro lavável para split 12000 BTU",
    "unidade": "UN",
    "pesoLiquido": 0.25,
    "pesoBruto": 0.3,
    "gtin": "7891234567895",
    "estoque": {"minimo": 5, "maximo": 100, "localizacao": "A-03"},
    "observacoes": "Importado do Auvo (productId 63867f52-b262-410a-a409-cc25ba92ded1)",
}

SERVICE_PRODUCT = {
    "nome": "Manutenção preventiva",
    "codigo": "SRV-PREV",
    "preco": 12.34,
    "tipo": "S",
    "situacao": "A",
    "formato": "S",
}

SALES_ORDER = {
    "numeroLoja": "AUVO-TASK-23",
    "data": "2024-05-10",
    "dataSaida": "2024-05-10",
    "dataPrevista": "2024-05-10",
    "contato": {"id": 12345678},
    "observacoes": "Tarefa Auvo 23 - Manutenção preventiva",
    "observacoesInternas": "auvo-task:23",
    "itens": [
        {
            "codigo": "FLT-12000",
            "unidade": "UN",
            "quantidade": 2,
            "desconto": 0,
            "valor": 89.9,
            "valorLista": 89.9,
            "descricao": "Filtro de ar condicionado 12000 BTU",
            "produto": {"id": 6423817751},
        },
        {
            "codigo": "SRV-PREV",
            "quantidade": 1,
            "valor": 12.34,
            "valorLista": 12.34,
            "descricao": "Manutenção preventiva",
            "produto": {"id": 6423817752},
        },
    ],
    "parcelas": [
        {"id": 0, "dataVencimento": "2024-06-10", "valor": 192.14, "formaPagamento": {"id": 1234}},
    ],
}

PROPOSAL = {
    "data": "2024-05-10",
    "situacao": "Pendente",
    "contato": {"id": 12345678},
    "desconto": 12.0,
    "observacoes": "Orçamento Auvo 42",
    "observacaoInterna": "auvo-quotation:42",
    "itens": [
        {
            "produto": {"id": 6423817751, "descricao": "Filtro de ar condicionado 12000 BTU"},
            "codigo": "FLT-12000",
            "unidade": "UN",
            "quantidade": 2,
            "desconto": 0,
            "valor": 89.9,
        }
    ],
    "parcelas": [
        {"numeroDias": 30, "dataVencimento": "2024-06-10", "valor": 167.8, "formaPagamento": {"id": 1234}}
    ],
}

PAYABLE = {
    "vencimento": "2024-06-10",
    "valor": 497.83,
    "contato": {"id": 12345678},
    "formaPagamento": {"id": 1234},
    "dataEmissao": "2024-05-10",
    "numeroDocumento": "AUVO-EXP-23",
    "competencia": "2024-05-01",
    "historico": "Despesa Auvo 23 - combustível",
    "categoria": {"id": 555},
}

Write = Callable[[BlingClient], Any]

WRITES: list[tuple[str, str, str, Write]] = [
    ("create_contact", "POST", "/contatos", lambda c: c.create_contact(CONTACT)),
    ("update_contact", "PUT", "/contatos/{idContato}", lambda c: c.update_contact(NEW_ID, CONTACT)),
    ("create_product", "POST", "/produtos", lambda c: c.create_product(PRODUCT)),
    ("create_product(service)", "POST", "/produtos", lambda c: c.create_product(SERVICE_PRODUCT)),
    ("update_product", "PUT", "/produtos/{idProduto}", lambda c: c.update_product(NEW_ID, PRODUCT)),
    ("create_sales_order", "POST", "/pedidos/vendas", lambda c: c.create_sales_order(SALES_ORDER)),
    (
        "update_sales_order",
        "PUT",
        "/pedidos/vendas/{idPedidoVenda}",
        lambda c: c.update_sales_order(NEW_ID, SALES_ORDER),
    ),
    ("create_proposal", "POST", "/propostas-comerciais", lambda c: c.create_proposal(PROPOSAL)),
    (
        "update_proposal",
        "PUT",
        "/propostas-comerciais/{idPropostaComercial}",
        lambda c: c.update_proposal(NEW_ID, PROPOSAL),
    ),
    ("create_payable", "POST", "/contas/pagar", lambda c: c.create_payable(PAYABLE)),
    ("update_payable", "PUT", "/contas/pagar/{idContaPagar}", lambda c: c.update_payable(NEW_ID, PAYABLE)),
]


def captured(write: Write) -> httpx.Request:
    recorder = Recorder()
    with BlingClient(BASE, StaticTokens(), transport=httpx.MockTransport(recorder)) as client:
        write(client)
    assert len(recorder.requests) == 1
    return recorder.requests[0]


@pytest.mark.parametrize(("name", "method", "template", "write"), WRITES, ids=[w[0] for w in WRITES])
def test_write_request_matches_the_document(name: str, method: str, template: str, write: Write) -> None:
    request = captured(write)
    path = request.url.path.removeprefix("/Api/v3")
    assert request.method == method
    assert operation_for(method, path)[0] == template
    assert request.headers["Content-Type"] == "application/json"
    assert schema_errors(method, path, json.loads(request.content)) == []


def test_every_write_operation_of_the_client_is_covered() -> None:
    public = {n for n in dir(BlingClient) if n.startswith(("create_", "update_"))}
    assert public == {w[0] for w in WRITES if "(" not in w[0]}


# --- the validator itself must catch what it is here to catch -------------------------------------


def test_sending_a_read_only_id_is_caught() -> None:
    errors = schema_errors("POST", "/contatos", {**CONTACT, "id": 99})
    assert any("read-only" in e for e in errors)


def test_missing_required_and_bad_enum_are_caught() -> None:
    body = {k: v for k, v in CONTACT.items() if k != "tipo"} | {"situacao": "X"}
    errors = schema_errors("PUT", "/contatos/1", body)
    assert any("'tipo' is a required property" in e for e in errors)
    assert any("'X' is not one of" in e for e in errors)


def test_bad_date_format_is_caught() -> None:
    assert schema_errors("POST", "/contas/pagar", {**PAYABLE, "vencimento": "10/06/2024"})


# --- reads use declared operations and parameters -------------------------------------------------

READS: list[tuple[str, Callable[[BlingClient], Any]]] = [
    ("iter_contacts", lambda c: list(c.iter_contacts(dataAlteracaoInicial="2024-01-01 00:00:00"))),
    ("get_contact", lambda c: c.get_contact(NEW_ID)),
    ("iter_products", lambda c: list(c.iter_products())),
    ("get_product", lambda c: c.get_product(NEW_ID)),
    ("iter_sales_orders", lambda c: list(c.iter_sales_orders())),
    ("get_sales_order", lambda c: c.get_sales_order(NEW_ID)),
    ("iter_proposals", lambda c: list(c.iter_proposals())),
    ("get_proposal", lambda c: c.get_proposal(NEW_ID)),
    ("iter_payables", lambda c: list(c.iter_payables())),
    ("get_payable", lambda c: c.get_payable(NEW_ID)),
    ("catalog_poll_window", lambda c: _catalog_poll(c, "2024-01-01T12:00:00+00:00")),
    ("catalog_poll_sweep", lambda c: _catalog_poll(c, None)),
    ("catalog_webhook_read", lambda c: list(c.iter_products(**{"idsProdutos[]": [str(NEW_ID)]}))),
]


def _catalog_poll(client: BlingClient, cursor: str | None) -> int:
    """The catalogue poller's list (issue 17 item 2): a changed-since window, or the whole sweep."""
    from datetime import UTC, datetime

    from producers.bling_catalog import CURSOR, SWEPT, BlingCatalogPoller

    cursors = {CURSOR: cursor, SWEPT: datetime.now(UTC).isoformat()} if cursor else {}

    class Cursors:
        def cursor(self, tenant: str, key: str) -> str | None:
            return cursors.get(key)

        def set_cursor(self, tenant: str, key: str, value: str) -> None:
            cursors[key] = value

    class Nowhere:
        def publish(self, envelope: Any) -> None:
            raise AssertionError("nothing listed, nothing to publish")

    return BlingCatalogPoller(client, Nowhere(), Cursors()).poll_once()


def declared_query_parameters(operation: dict[str, Any]) -> set[str]:
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = spec()["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
        if parameter.get("in") == "query":
            names.add(parameter["name"])
    return names


@pytest.mark.parametrize(("name", "read"), READS, ids=[r[0] for r in READS])
def test_read_requests_use_declared_operations(name: str, read: Callable[[BlingClient], Any]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [] if "pagina" in request.url.params else {"id": NEW_ID}})

    with BlingClient(BASE, StaticTokens(), transport=httpx.MockTransport(handler)) as client:
        read(client)
    request = seen[0]
    _, operation = operation_for("GET", request.url.path.removeprefix("/Api/v3"))
    assert set(request.url.params.keys()) <= declared_query_parameters(operation)
