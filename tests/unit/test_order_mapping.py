"""Auvo task / quotation -> Bling pedido de venda / proposta comercial, by table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from consumers.sales.mapping import (
    ProductRef,
    SaleLine,
    body_fingerprint,
    document_from_quote,
    document_from_task,
    line_discount_percent,
    lines_from_task,
    order_closed,
    product_body,
    product_code,
    proposal_body,
    sales_order_body,
)
from contracts.events import AuvoDiscount, AuvoQuote, AuvoTask

P1 = "63867f52-b262-410a-a409-cc25ba92ded1"
S1 = "419384ad-705c-11eb-bf97-0aa2a285b66a"

TASK: dict[str, Any] = {
    "taskID": 23,
    "customerId": 456,
    "taskType": 23,
    "taskTypeDescription": "Manutenção preventiva",
    "taskDate": "2026-03-23T18:00:00",
    "orientation": "Trocar filtros do split da recepção",
    "finished": True,
    "checkOut": True,
    "taskUrl": "https://app.auvo.com.br/tarefa/23",
    "dateLastUpdate": "2026-03-23T18:10:00",
    "products": [
        {
            "productId": P1,
            "code": "FA-01",
            "name": "Filtro de ar",
            "quantity": 2.0,
            "unitaryValue": 35.9,
            "totalValue": 71.8,
            "discount": {"value": 7.18, "type": "Valor"},
        },
        {"productId": "zero-qty", "name": "Nada", "quantity": 0.0, "unitaryValue": 10.0},
    ],
    "services": [
        {
            "id": S1,
            "name": "Higienização de split",
            "quantity": 1.0,
            "unitaryValue": 150.0,
            "totalValue": 150.0,
        }
    ],
    "additionalCosts": [
        {"additionalCostId": "a1", "name": "Deslocamento", "unitaryValue": 25.0},
        {"additionalCostId": "a2", "name": "Estacionamento", "unitaryValue": "12,50"},
    ],
    "summary": {"discount": {"value": 10.0, "type": "Valor"}},
}

# produtos the integration created: the items show our marker codigo
PRODUCT_IDS = {
    ("product", P1): ProductRef(6423817751, f"AUVO-P-{P1}"),
    ("service", S1): ProductRef(6423817752, f"AUVO-S-{S1}"),
}


def test_task_lines_products_then_services_without_zero_quantity() -> None:
    lines = lines_from_task(AuvoTask.model_validate(TASK))
    assert lines == [
        SaleLine("product", P1, "Filtro de ar", Decimal("2.0"), Decimal("35.9"), Decimal("10.0000"), "FA-01"),
        SaleLine("service", S1, "Higienização de split", Decimal("1.0"), Decimal("150.0")),
    ]
    assert [line.code for line in lines] == [f"AUVO-P-{P1}", f"AUVO-S-{S1}"]


def test_task_becomes_this_pedido_de_venda() -> None:
    body = sales_order_body(
        document_from_task(AuvoTask.model_validate(TASK)), contact_id=99, product_ids=PRODUCT_IDS
    )
    assert body == {
        "numeroLoja": "AUVO-TASK-23",
        "data": "2026-03-23",
        "dataSaida": "2026-03-23",
        "dataPrevista": "2026-03-23",
        "contato": {"id": 99},
        "itens": [
            {
                "codigo": f"AUVO-P-{P1}",
                "unidade": "UN",
                "quantidade": 2.0,
                "valor": 35.9,
                "valorLista": 35.9,
                "desconto": 10.0,
                "descricao": "Filtro de ar",
                "produto": {"id": 6423817751},
            },
            {
                "codigo": f"AUVO-S-{S1}",
                "unidade": "UN",
                "quantidade": 1.0,
                "valor": 150.0,
                "valorLista": 150.0,
                "desconto": 0.0,
                "descricao": "Higienização de split",
                "produto": {"id": 6423817752},
            },
        ],
        "parcelas": [],
        "outrasDespesas": 37.5,
        "desconto": {"valor": 10.0, "unidade": "REAL"},
        "observacoes": (
            "Tarefa Auvo nº 23 - Manutenção preventiva\nTrocar filtros do split da recepção\n"
            "Tarefa no Auvo: https://app.auvo.com.br/tarefa/23"
        ),
        "observacoesInternas": (
            "auvo-task:23 (AUVO-TASK-23)\nCustos adicionais: Deslocamento: 25.0; Estacionamento: 12.5"
        ),
    }


@pytest.mark.parametrize(
    ("quantity", "unit", "discount", "percent"),
    [
        ("2", "35.90", None, Decimal(0)),
        ("2", "35.90", {"value": 0, "type": "Valor"}, Decimal(0)),
        ("2", "35.90", {"value": 7.18, "type": "Valor"}, Decimal("10.0000")),
        ("3", "10", {"value": 1, "type": "Valor"}, Decimal("3.3333")),
        ("1", "100", {"value": 15, "type": "Percentual"}, Decimal(15)),
        ("1", "100", {"value": 15, "type": "Porcentagem"}, Decimal(15)),
        ("1", "100", {"value": 150, "type": "Valor"}, Decimal(100)),  # never more than the line
        ("1", "0", {"value": 5, "type": "Valor"}, Decimal(0)),
    ],
)
def test_line_discounts_become_bling_percentages(
    quantity: str, unit: str, discount: dict[str, Any] | None, percent: Decimal
) -> None:
    parsed = AuvoDiscount.model_validate(discount) if discount else None
    assert line_discount_percent(Decimal(quantity), Decimal(unit), parsed) == percent


@pytest.mark.parametrize(
    ("summary_discount", "desconto"),
    [
        (None, {"valor": 0.0, "unidade": "REAL"}),
        ({"value": 12.345, "type": "Valor"}, {"valor": 12.35, "unidade": "REAL"}),
        ({"value": 5, "type": "Percentual"}, {"valor": 5.0, "unidade": "PERCENTUAL"}),
    ],
)
def test_task_discount_on_the_pedido(
    summary_discount: dict[str, Any] | None, desconto: dict[str, Any]
) -> None:
    record = {**TASK, "summary": {"discount": summary_discount} if summary_discount else None}
    body = sales_order_body(
        document_from_task(AuvoTask.model_validate(record)), contact_id=1, product_ids=PRODUCT_IDS
    )
    assert body["desconto"] == desconto


@pytest.mark.parametrize(
    ("changes", "observacoes"),
    [
        ({"taskTypeDescription": None, "orientation": None, "taskUrl": None}, "Tarefa Auvo nº 23"),
        ({"orientation": "  ", "taskUrl": ""}, "Tarefa Auvo nº 23 - Manutenção preventiva"),
    ],
)
def test_observations_always_name_the_task(changes: dict[str, Any], observacoes: str) -> None:
    doc = document_from_task(AuvoTask.model_validate({**TASK, **changes}))
    assert doc.observations == observacoes


def test_date_falls_back_to_creation_date() -> None:
    doc = document_from_task(
        AuvoTask.model_validate({**TASK, "taskDate": None, "creationDate": "2026-01-02T08:00:00"})
    )
    assert doc.date == "2026-01-02"


QUOTE: dict[str, Any] = {
    "publicId": 42,
    "customerId": 456,
    "taskID": 0,
    "descount": "12.00",
    "observations": "Validade 15 dias",
    "requestDate": "2026-03-20T10:00:00",
    "aditionalCosts": [{"id": 1, "costId": 2, "description": "Frete", "value": "10.00"}],
    "products": [{"productId": "FA-01", "amout": 2, "UnitaryValue": "35.90"}],
    "summary": {"discount": {"type": "Monetario", "value": 12.00}},
    "CurrentStage": {"id": 3, "description": "Aprovado"},
}
CATALOGUE = {"FA-01": {"productId": P1, "code": "FA-01", "name": "Filtro de ar"}}


def test_quote_becomes_this_proposta_comercial() -> None:
    doc = document_from_quote(AuvoQuote.model_validate(QUOTE), CATALOGUE)
    assert proposal_body(doc, contact_id=99, product_ids=PRODUCT_IDS) == {
        "data": "2026-03-20",
        "contato": {"id": 99},
        "desconto": 12.0,
        "outrasDespesas": 10.0,
        "observacoes": "Orçamento Auvo nº 42\nValidade 15 dias",
        "observacaoInterna": "auvo-quotation:42 (AUVO-ORC-42)\nCustos adicionais: Frete: 10.0",
        "itens": [
            {
                "produto": {"id": 6423817751, "descricao": "Filtro de ar"},
                "codigo": f"AUVO-P-{P1}",
                "unidade": "UN",
                "quantidade": 2.0,
                "desconto": 0.0,
                "valor": 35.9,
            }
        ],
        "parcelas": [],
    }


def test_quote_of_a_task_as_pedido_carries_the_tasks_marker() -> None:
    record = {**QUOTE, "taskID": 23}
    doc = document_from_quote(AuvoQuote.model_validate(record), CATALOGUE, marker="AUVO-TASK-23")
    body = sales_order_body(doc, contact_id=99, product_ids=PRODUCT_IDS)
    assert body["numeroLoja"] == "AUVO-TASK-23"
    assert body["observacoes"].startswith("Orçamento Auvo nº 42 (tarefa Auvo nº 23)")
    assert body["desconto"] == {"valor": 12.0, "unidade": "REAL"}


@pytest.mark.parametrize(
    ("summary", "descount", "desconto"),
    [
        (None, "12,50", 12.5),  # no summary: the top-level `descount`
        ({"discount": {"type": "Monetario", "value": 0}}, "3.00", 3.0),
        ({"discount": {"type": "Percentual", "value": 10}}, "0", 7.18),  # 10 % of 71.80
    ],
)
def test_quote_discount_on_the_proposta(
    summary: dict[str, Any] | None, descount: str, desconto: float
) -> None:
    record = {**QUOTE, "summary": summary, "descount": descount}
    doc = document_from_quote(AuvoQuote.model_validate(record), CATALOGUE)
    assert proposal_body(doc, contact_id=1, product_ids=PRODUCT_IDS)["desconto"] == desconto


def test_quote_line_of_a_product_missing_from_the_catalogue_keeps_its_id() -> None:
    doc = document_from_quote(AuvoQuote.model_validate(QUOTE), {})
    assert [(line.auvo_id, line.name) for line in doc.lines] == [("FA-01", "Produto Auvo FA-01")]


@pytest.mark.parametrize(
    ("line", "body"),
    [
        (
            SaleLine("product", P1, "Filtro de ar", Decimal(2), Decimal("35.9")),
            {
                "nome": "Filtro de ar",
                "codigo": f"AUVO-P-{P1}",
                "preco": 35.9,
                "tipo": "P",
                "situacao": "A",
                "formato": "S",
                "observacoes": f"Criado pela integração Auvo <> Bling a partir do produto Auvo {P1}",
                "unidade": "UN",
            },
        ),
        (
            SaleLine("service", S1, "Higienização", Decimal(1), Decimal(150)),
            {
                "nome": "Higienização",
                "codigo": f"AUVO-S-{S1}",
                "preco": 150.0,
                "tipo": "S",
                "situacao": "A",
                "formato": "S",
                "observacoes": f"Criado pela integração Auvo <> Bling a partir do serviço Auvo {S1}",
            },
        ),
    ],
)
def test_products_and_services_become_bling_produtos(line: SaleLine, body: dict[str, Any]) -> None:
    assert product_body(line) == body
    assert product_code(line.kind, line.auvo_id) == body["codigo"]


def test_long_names_are_cut_to_blings_limit() -> None:
    record = {**TASK, "products": [{**TASK["products"][0], "name": "x" * 300}]}
    [line, _] = lines_from_task(AuvoTask.model_validate(record))
    assert len(line.name) == 120


@pytest.mark.parametrize(
    ("order", "closed"),
    [
        ({"situacao": {"id": 6}}, False),
        ({"situacao": {"id": 15}, "notaFiscal": {"id": 0}}, False),
        ({"situacao": {"id": 9}}, True),
        ({"situacao": {"id": 12}}, True),
        ({"situacao": {"id": 6}, "notaFiscal": {"id": 777}}, True),
        ({}, False),
    ],
)
def test_closed_pedidos(order: dict[str, Any], closed: bool) -> None:
    assert order_closed(order) is closed


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert body_fingerprint({"a": 1, "b": [1, 2]}) == body_fingerprint({"b": [1, 2], "a": 1})
    assert body_fingerprint({"a": 1}) != body_fingerprint({"a": 2})


def test_an_item_of_the_company_catalogue_shows_its_own_codigo() -> None:
    matched = {**PRODUCT_IDS, ("product", P1): ProductRef(777, "FA-01")}
    doc = document_from_task(AuvoTask.model_validate(TASK))
    order = sales_order_body(doc, contact_id=1, product_ids=matched)
    assert [(i["codigo"], i["produto"]["id"]) for i in order["itens"]] == [
        ("FA-01", 777),
        (f"AUVO-S-{S1}", 6423817752),
    ]
    proposal = proposal_body(doc, contact_id=1, product_ids=matched)
    assert (proposal["itens"][0]["codigo"], proposal["itens"][0]["produto"]["id"]) == ("FA-01", 777)


def test_quote_lines_carry_the_auvo_products_code() -> None:
    doc = document_from_quote(AuvoQuote.model_validate(QUOTE), CATALOGUE)
    assert [(line.auvo_id, line.sku) for line in doc.lines] == [(P1, "FA-01")]
