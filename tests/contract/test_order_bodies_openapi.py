"""Every body the task and quote flows send validates against Bling's OpenAPI document.

The bodies come from the real translators (`consumers.sales.mapping`) fed with realistic Auvo
records, are sent through `BlingClient` to a recorder, and validated against the operation's request
schema with OpenAPI 3.0 write semantics (the checks of `test_bling_requests_openapi`). The lookups
the flows make (`numerosLojas[]`, `codigos[]`, `idContato`) must be parameters the document declares.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from consumers.sales.mapping import (
    SaleLine,
    document_from_quote,
    document_from_task,
    product_body,
    proposal_body,
    sales_order_body,
)
from contracts.events import AuvoQuote, AuvoTask
from infra.bling.client import BlingClient
from tests.contract.test_bling_requests_openapi import (
    BASE,
    NEW_ID,
    StaticTokens,
    captured,
    declared_query_parameters,
    operation_for,
    schema_errors,
)
from tests.unit.test_order_mapping import CATALOGUE, P1, PRODUCT_IDS, QUOTE, S1, TASK

TASK_VARIANTS: dict[str, dict[str, Any]] = {
    "full task": TASK,
    "percent discount": {**TASK, "summary": {"discount": {"value": 5, "type": "Percentual"}}},
    "no costs, no summary, no url": {**TASK, "additionalCosts": [], "summary": None, "taskUrl": None},
    "services only": {**TASK, "products": []},
}
QUOTE_VARIANTS: dict[str, dict[str, Any]] = {
    "quote": QUOTE,
    "quote of a task": {**QUOTE, "taskID": 23},
    "quote with percent discount": {**QUOTE, "summary": {"discount": {"type": "Percentual", "value": 10}}},
}


def order_bodies() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, record in TASK_VARIANTS.items():
        doc = document_from_task(AuvoTask.model_validate(record))
        out.append((name, sales_order_body(doc, contact_id=NEW_ID, product_ids=PRODUCT_IDS)))
    for name, record in QUOTE_VARIANTS.items():
        doc = document_from_quote(AuvoQuote.model_validate(record), CATALOGUE)
        out.append((name, sales_order_body(doc, contact_id=NEW_ID, product_ids=PRODUCT_IDS)))
    return out


def proposal_bodies() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, record in QUOTE_VARIANTS.items():
        doc = document_from_quote(AuvoQuote.model_validate(record), CATALOGUE)
        out.append((name, proposal_body(doc, contact_id=NEW_ID, product_ids=PRODUCT_IDS)))
    return out


PRODUCT_BODIES = [
    ("product", product_body(SaleLine("product", P1, "Filtro de ar", Decimal(2), Decimal("35.9")))),
    ("service", product_body(SaleLine("service", S1, "Higienização de split", Decimal(1), Decimal(150)))),
]

Write = Callable[[BlingClient], Any]


def writes() -> list[tuple[str, str, str, Write]]:
    out: list[tuple[str, str, str, Write]] = []
    for name, body in order_bodies():
        out.append(
            (f"create pedido ({name})", "POST", "/pedidos/vendas", lambda c, b=body: c.create_sales_order(b))
        )
        out.append(
            (
                f"update pedido ({name})",
                "PUT",
                "/pedidos/vendas/{idPedidoVenda}",
                lambda c, b=body: c.update_sales_order(NEW_ID, b),
            )
        )
    for name, body in proposal_bodies():
        out.append(
            (
                f"create proposta ({name})",
                "POST",
                "/propostas-comerciais",
                lambda c, b=body: c.create_proposal(b),
            )
        )
        out.append(
            (
                f"update proposta ({name})",
                "PUT",
                "/propostas-comerciais/{idPropostaComercial}",
                lambda c, b=body: c.update_proposal(NEW_ID, b),
            )
        )
    for name, body in PRODUCT_BODIES:
        out.append((f"create produto ({name})", "POST", "/produtos", lambda c, b=body: c.create_product(b)))
    return out


WRITES = writes()


@pytest.mark.parametrize(("name", "method", "template", "write"), WRITES, ids=[w[0] for w in WRITES])
def test_body_validates_against_the_document(name: str, method: str, template: str, write: Write) -> None:
    request = captured(write)
    path = request.url.path.removeprefix("/Api/v3")
    assert request.method == method
    assert operation_for(method, path)[0] == template
    assert schema_errors(method, path, json.loads(request.content)) == []


def test_the_validator_would_catch_a_sent_situacao_on_put_and_a_missing_valor_lista() -> None:
    """The two quirks the translators avoid are real errors for this validator."""
    _, body = order_bodies()[0]
    assert schema_errors("PUT", "/pedidos/vendas/1", {**body, "situacao": {"id": 6}})
    item = {k: v for k, v in body["itens"][0].items() if k != "valorLista"}
    assert schema_errors("POST", "/pedidos/vendas", {**body, "itens": [item]})


LOOKUPS: list[tuple[str, Callable[[BlingClient], Any]]] = [
    ("pedido by numeroLoja", lambda c: list(c.iter_sales_orders(**{"numerosLojas[]": ["AUVO-TASK-23"]}))),
    ("produto by codigo", lambda c: list(c.iter_products(**{"codigos[]": [f"AUVO-P-{P1}"]}))),
    # the catalogue matching (consumers/sales/catalog.py): marker and SKU, externalId, GTIN
    (
        "produto by codigo and sku",
        lambda c: list(c.iter_products(**{"codigos[]": [f"AUVO-P-{P1}", "FA-01"]})),
    ),
    ("produto by id", lambda c: list(c.iter_products(**{"idsProdutos[]": ["6423817751"]}))),
    ("produto by gtin", lambda c: list(c.iter_products(**{"gtins[]": ["7891234567895"]}))),
    ("propostas of a contato", lambda c: list(c.iter_proposals(idContato=NEW_ID))),
]


@pytest.mark.parametrize(("name", "read"), LOOKUPS, ids=[r[0] for r in LOOKUPS])
def test_lookups_use_declared_list_parameters(name: str, read: Callable[[BlingClient], Any]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": []})

    with BlingClient(BASE, StaticTokens(), transport=httpx.MockTransport(handler)) as client:
        read(client)
    [request] = seen
    _, operation = operation_for("GET", request.url.path.removeprefix("/Api/v3"))
    assert set(request.url.params.keys()) <= declared_query_parameters(operation)
