"""Counting the store's round trips: what a handled event costs the database, by call site.

At a thousand companies the database pays per event, so the budget is in round trips (a test
fails above it), not in milliseconds that depend on the machine. A *transaction* is one checkout
of a connection that executes statements (SQLAlchemy's `begin`, autobegin included); a
*statement* is one execute inside it. Each is named by the first caller outside the store and
SQLAlchemy, so the breakdown says which step of a handler spent it.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

_STORE_DIR = str(Path(__file__).resolve().parent)
_SKIPPED = (_STORE_DIR, "sqlalchemy", "contextlib", f"{Path(__file__).name}")


@dataclass
class RoundTrips:
    transactions: Counter[str] = field(default_factory=Counter)
    statements: Counter[str] = field(default_factory=Counter)

    @property
    def total_transactions(self) -> int:
        return sum(self.transactions.values())

    @property
    def total_statements(self) -> int:
        return sum(self.statements.values())

    def breakdown(self, per: int = 1) -> str:
        """One line per call site: transactions and statements, divided by `per` (events)."""
        lines = []
        for site in sorted(set(self.transactions) | set(self.statements)):
            lines.append(
                f"  {self.transactions[site] / per:5.2f} tx {self.statements[site] / per:5.2f} stmt  {site}"
            )
        return "\n".join(lines)


def _call_site() -> str:
    """`module.function:line` of the first frame outside the store's plumbing and SQLAlchemy."""
    frame: Any = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not any(part in filename for part in _SKIPPED):
            return f"{Path(filename).stem}.{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


@contextlib.contextmanager
def counted(engine: Engine) -> Iterator[RoundTrips]:
    """Count the transactions and statements `engine` runs inside the block."""
    trips = RoundTrips()

    def on_begin(conn: Any) -> None:
        trips.transactions[_call_site()] += 1

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.strip().upper() != "BEGIN IMMEDIATE":  # SQLite's begin, counted above
            trips.statements[_call_site()] += 1

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield trips
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_execute)
