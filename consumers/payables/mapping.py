"""Pure translation of an Auvo expense into a Bling conta a pagar (and its technician contato)."""

from __future__ import annotations

from typing import Any

from contracts.events import AuvoExpense

EXPENSE_MARKER_PREFIX = "AUVO-EXP-"
TECHNICIAN_MARKER_PREFIX = "AUVO-USER-"


def expense_marker(expense_id: int | str) -> str:
    """`numeroDocumento` of the conta: finds it again without the id map."""
    return f"{EXPENSE_MARKER_PREFIX}{expense_id}"


def technician_marker(user_id: int | str) -> str:
    """`codigo` of the technician's contato in Bling."""
    return f"{TECHNICIAN_MARKER_PREFIX}{user_id}"


def expense_date(expense: AuvoExpense) -> str:
    """The expense's day (Auvo dates are naive Brasília timestamps; Bling wants YYYY-MM-DD)."""
    return (expense.date or "")[:10]


def technician_contact_body(expense: AuvoExpense) -> dict[str, Any]:
    return {
        "nome": expense.userToName or f"Técnico Auvo {expense.userToId}",
        "codigo": technician_marker(expense.userToId or 0),
        "situacao": "A",
        "tipo": "F",
    }


def payable_body(expense: AuvoExpense, contact_id: int) -> dict[str, Any]:
    """The conta a pagar owed to the technician for one expense, due on the expense's day."""
    day = expense_date(expense)
    kind = f" ({expense.typeName})" if expense.typeName else ""
    return {
        "vencimento": day,
        "dataEmissao": day,
        "competencia": day,
        "valor": round(float(expense.amount), 2),
        "contato": {"id": contact_id},
        "numeroDocumento": expense_marker(expense.id),
        "historico": f"Despesa Auvo nº {expense.id}: {expense.description}{kind} - {expense.userToName}",
    }
