"""Bling's wire formats: its timestamps and dates (Brasília local time) and query values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from infra import http


def to_bling_datetime(dt: datetime) -> str:
    """Bling's filter timestamps: `YYYY-MM-DD HH:MM:SS` in Brasília local time."""
    return http.as_brasilia(dt).strftime("%Y-%m-%d %H:%M:%S")


def to_bling_date(dt: datetime) -> str:
    """Bling's date-only fields and filters (`YYYY-MM-DD`), taken in Brasília local time."""
    return http.as_brasilia(dt).strftime("%Y-%m-%d")


def bling_query(filters: dict[str, Any]) -> dict[str, Any]:
    """Bling query values: datetimes in Brasília local time, None dropped, booleans as 0/1."""
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = to_bling_datetime(value)
        elif isinstance(value, bool):
            value = int(value)
        out[key] = value
    return out
