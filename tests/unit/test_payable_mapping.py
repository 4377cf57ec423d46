"""An Auvo expense as a Bling conta a pagar owed to the technician."""

from __future__ import annotations

from consumers.payables.mapping import expense_marker, payable_body, technician_contact_body
from contracts.events import AuvoExpense


def test_payable_body_is_due_on_the_expense_day_for_the_technician() -> None:
    expense = AuvoExpense(
        id=801,
        description="Almoço",
        userToId=1002,
        userToName="Ana Técnica",
        typeName="Alimentação",
        date="2026-11-20T23:59:00",
        amount=42.499,
    )
    body = payable_body(expense, contact_id=16000000123)
    assert body == {
        "vencimento": "2026-11-20",
        "dataEmissao": "2026-11-20",
        "competencia": "2026-11-20",
        "valor": 42.5,
        "contato": {"id": 16000000123},
        "numeroDocumento": "AUVO-EXP-801",
        "historico": "Despesa Auvo nº 801: Almoço (Alimentação) - Ana Técnica",
    }
    assert expense_marker(801) == body["numeroDocumento"]


def test_technician_contact_has_a_stable_code_and_a_name_even_without_one() -> None:
    assert technician_contact_body(AuvoExpense(id=1, userToId=7, userToName="Bruno")) == {
        "nome": "Bruno",
        "codigo": "AUVO-USER-7",
        "situacao": "A",
        "tipo": "F",
    }
    assert technician_contact_body(AuvoExpense(id=1, userToId=7))["nome"] == "Técnico Auvo 7"
