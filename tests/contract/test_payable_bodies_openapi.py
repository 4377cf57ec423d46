"""The conta a pagar and technician contato bodies of the expense flow validate against Bling's
OpenAPI document (readOnly fields such as `situacao` and `vencimentoOriginal` are never sent)."""

from __future__ import annotations

import json

import pytest

from consumers.payables.mapping import payable_body, technician_contact_body
from contracts.events import AuvoExpense
from tests.contract.test_bling_requests_openapi import NEW_ID, captured, schema_errors

EXPENSES = [
    AuvoExpense(
        id=801,
        description="Combustível",
        userToId=1002,
        userToName="Técnico Simulado",
        typeName="Despesa de viagem",
        date="2026-11-20T14:30:00",
        amount=87.5,
    ),
    AuvoExpense(id=802, description="", userToId=None, userToName="", date="2026-11-21T00:00:00", amount=15),
]


@pytest.mark.parametrize("expense", EXPENSES, ids=lambda e: str(e.id))
def test_payable_create_and_update_validate(expense: AuvoExpense) -> None:
    body = payable_body(expense, NEW_ID)
    for method, path, write in (
        ("POST", "/contas/pagar", lambda c: c.create_payable(body)),
        ("PUT", f"/contas/pagar/{NEW_ID}", lambda c: c.update_payable(NEW_ID, body)),
    ):
        request = captured(write)
        assert request.method == method
        assert schema_errors(method, path, json.loads(request.content)) == []


@pytest.mark.parametrize("expense", EXPENSES, ids=lambda e: str(e.id))
def test_technician_contact_validates(expense: AuvoExpense) -> None:
    body = technician_contact_body(expense)
    request = captured(lambda c: c.create_contact(body))
    assert schema_errors("POST", "/contatos", json.loads(request.content)) == []


def test_the_validator_would_catch_a_read_only_situacao() -> None:
    assert schema_errors("POST", "/contas/pagar", {**payable_body(EXPENSES[0], NEW_ID), "situacao": 1})
