"""A pedido de venda's state as the job's outcome (issue 17, item 3), read from Bling's pedido.

Shared by the outcome poller (producers/) and the outcome writer (consumers/), which never import
each other: the vocabulary and the one rule that reads it live here. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

# Bling's default situações de venda (consumers/sales/mapping.CLOSED_ORDER_SITUATIONS)
SITUACAO_ATENDIDO = 9
SITUACAO_CANCELADO = 12
CLOSING_SITUATIONS = (SITUACAO_ATENDIDO, SITUACAO_CANCELADO)


class JobOutcome(StrEnum):
    attended = "atendido"
    cancelled = "cancelado"
    invoiced = "faturado"  # a nota fiscal was issued for the pedido


FINAL_OUTCOMES = frozenset({JobOutcome.cancelled, JobOutcome.invoiced})


def order_outcome(order: Mapping[str, Any]) -> JobOutcome | None:
    """The pedido's state as the task shows it; None while it is still open.

    A nota fiscal wins over the situação (Bling marks an invoiced pedido atendido too); a
    cancelled pedido whose nota was issued before is still shown as cancelled.
    """
    situacao = order.get("situacao") or {}
    situacao_id = situacao.get("id") if isinstance(situacao, dict) else None
    if situacao_id == SITUACAO_CANCELADO:
        return JobOutcome.cancelled
    nota = order.get("notaFiscal") or {}
    if isinstance(nota, dict) and nota.get("id"):
        return JobOutcome.invoiced
    if situacao_id == SITUACAO_ATENDIDO:
        return JobOutcome.attended
    return None


def outcome_state(order: Mapping[str, Any]) -> str:
    """What an outcome event's id covers of a pedido: its situação and its nota fiscal."""
    situacao = order.get("situacao") or {}
    nota = order.get("notaFiscal") or {}
    situacao_id = situacao.get("id") if isinstance(situacao, dict) else situacao
    nota_id = (nota.get("id") if isinstance(nota, dict) else None) or ""
    return f"situacao={situacao_id}|nota={nota_id}"
