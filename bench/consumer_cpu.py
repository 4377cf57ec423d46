"""Per-event CPU cost of a consumer without HTTP: decode, idempotency check, lock, decide,
translate and the state commit, with the Bling API replaced by an in-memory stand-in.

Prints microseconds per event (wall and CPU) for SQLite and for PostgreSQL, measured in one run,
and the store round trips per event (transactions and statements, by call site) of a contato
created and of a contato updated (infra/store/round_trips.py):

    python bench/consumer_cpu.py [--events 2000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from contracts.envelope import Envelope
from contracts.events import auvo_customer_changed
from infra.store import Store
from infra.store.round_trips import RoundTrips, counted


class InMemoryBling:
    """Answers like Bling, instantly: what is left is our own per-event work."""

    def __init__(self, *, keep: bool = True) -> None:
        """`keep=False` forgets what was written (the memory benchmark must measure only us)."""
        self.contacts: dict[int, dict[str, Any]] = {}
        self.sales_orders: dict[int, dict[str, Any]] = {}
        self.keep = keep
        self._ids = itertools.count(16_000_000_000)

    def iter_contacts(self, **filters: Any) -> list[dict[str, Any]]:
        return []

    def get_contact(self, contact_id: int) -> dict[str, Any]:
        return {"id": contact_id, **self.contacts[contact_id]}

    def create_contact(self, body: dict[str, Any]) -> int:
        contact_id = next(self._ids)
        if self.keep:
            self.contacts[contact_id] = body
        return contact_id

    def update_contact(self, contact_id: int, body: dict[str, Any]) -> None:
        self.contacts[contact_id] = body

    # pedidos de venda (consumers/sales/documents.py): enough for a task's pedido created and updated

    def iter_sales_orders(self, **filters: Any) -> list[dict[str, Any]]:
        markers = set(filters.get("numerosLojas[]") or [])
        return [
            {"id": i, "numeroLoja": o.get("numeroLoja")}
            for i, o in self.sales_orders.items()
            if o.get("numeroLoja") in markers
        ]

    def get_sales_order(self, order_id: int) -> dict[str, Any]:
        return {"id": order_id, "situacao": {"id": 6}, **self.sales_orders[order_id]}

    def create_sales_order(self, body: dict[str, Any]) -> int:
        order_id = next(self._ids)
        self.sales_orders[order_id] = body
        return order_id

    def update_sales_order(self, order_id: int, body: dict[str, Any]) -> None:
        self.sales_orders[order_id] = body


def events(n: int, start: int = 0, *, version: str = "2026-11-29T10:00:00") -> list[Envelope]:
    return [
        auvo_customer_changed(
            {
                "id": 7_000_000 + i,
                "description": f"Cliente {i} Comércio Ltda" + ("" if version.endswith("10:00:00") else " ME"),
                "cpfCnpj": "",
                "email": [f"cliente{i}@example.com.br"],
                "phoneNumber": ["11987654321"],
                "address": "Rua das Flores, 120 - Centro, São Paulo - SP",
                "dateLastUpdate": version,
            }
        )
        for i in range(start, start + n)
    ]


def measure(store: Store, n: int) -> tuple[float, float, RoundTrips, RoundTrips]:
    """(wall us, CPU us) per created contato, and the round trips of the creates and the updates."""
    handler = AuvoCustomerToBlingContact(store, InMemoryBling())
    batch = [Envelope.from_json(e.to_json()) for e in events(n)]
    wall, cpu = time.perf_counter(), time.process_time()
    for envelope in batch:
        handler(Envelope.from_json(envelope.to_json()))  # decode as the runner does
    wall, cpu = (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6
    sample = min(n, 100)
    with counted(store.engine) as created:
        for envelope in events(sample, n):
            handler(envelope)
    with counted(store.engine) as updated:
        for envelope in events(sample, n, version="2026-11-29T11:00:00"):
            handler(envelope)
    return wall, cpu, created, updated


def report(name: str, wall: float, cpu: float, created: RoundTrips, updated: RoundTrips, n: int) -> None:
    sample = min(n, 100)
    print(f"{name:11}: {wall:7.0f} us/event wall, {cpu:7.0f} us/event CPU (this process)")
    for what, trips in (("contato created", created), ("contato updated", updated)):
        print(
            f"  {what}: {trips.total_transactions / sample:.2f} transactions, "
            f"{trips.total_statements / sample:.2f} statements per event"
        )
        print(trips.breakdown(sample))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = Store(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        sqlite_figures = measure(sqlite, args.events)
        sqlite.dispose()

    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        args.pg.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        pg = Store(f"{args.pg.rsplit('/', 1)[0]}/{name}")
        pg_figures = measure(pg, args.events)
        pg.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    print(f"{args.events} auvo.customer.changed events, Bling answered in memory (no HTTP)")
    report("SQLite", *sqlite_figures, args.events)
    report("PostgreSQL", *pg_figures, args.events)


if __name__ == "__main__":
    main()
