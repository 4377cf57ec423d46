"""Auvo's wire formats: how its API spells values, read the same way by the pollers and the consumers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.options import TaskStatus
from infra import http


def auvo_number(value: Any) -> Decimal:
    """A money or quantity value as Auvo sends it: 12.5, "12.50", "12,50" or "2.500.000,00".

    The last of `,` / `.` is the decimal separator when both appear; a lone `,` is decimal; several
    `.` without a `,` are thousands separators. Anything unreadable counts as zero (a value we
    cannot read must not make a sales document up).
    """
    if value is None or isinstance(value, bool):
        return Decimal(0)
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = str(value).strip().replace(" ", "")
    if not text:
        return Decimal(0)
    if "," in text and "." in text:
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return Decimal(0)


def to_auvo_datetime(dt: datetime) -> str:
    """Formats an aware datetime the way Auvo filters expect: naive Brasília `yyyy-MM-ddTHH:mm:ss`."""
    return http.as_brasilia(dt).strftime("%Y-%m-%dT%H:%M:%S")


def from_auvo_datetime(text: str) -> datetime:
    """Reads Auvo's naive Brasília timestamps (`T` or space separated) as aware UTC."""
    return http.parse_brasilia(text)


# Auvo's task list `status` filter value for each of the guide's task status choices.
AUVO_STATUS_FILTER: dict[TaskStatus, int] = {
    TaskStatus.not_finished: 0,
    TaskStatus.finished_automatically: 1,
    TaskStatus.finished_manually: 2,
    TaskStatus.finished_auto_or_manual: 3,
    TaskStatus.all: 4,
}
