"""What the IP-wide Bling ceilings cost every request: store statements and milliseconds.

Every Bling request passes the account's bucket (infra/ratelimit.py, one transaction) and, since
issue 16, the egress group's sliding windows (infra/egress.py, one more transaction; an error
answer adds one more); since issue 20 the wiring takes the windows in the slot's transaction
(`SharedThrottle(egress=...)`). This runs N throttle passes with the account bucket alone, with
both as two transactions, and with both in one (as wired), on SQLite and on PostgreSQL, rates
high enough that nobody waits, and prints per request: the
transactions and statements sent to the database and the wall time, in one run.

    python bench/egress_cost.py [--requests 2000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from infra.egress import BlingEgress, ChainedThrottle
from infra.ratelimit import SharedThrottle
from infra.settings import EgressSettings
from infra.store import Store


class StatementCount:
    def __init__(self, store: Store) -> None:
        self.statements = 0
        self.transactions = 0
        event.listen(store.engine, "before_cursor_execute", self._statement)
        event.listen(store.engine, "begin", self._begin)

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _begin(self, *_: Any) -> None:
        self.transactions += 1


def measure(store: Store, throttle: Callable[[], None], requests: int) -> tuple[float, float, float]:
    counter = StatementCount(store)
    for _ in range(50):  # warm the pool and the rows
        throttle()
    counter.statements = counter.transactions = 0
    started = time.perf_counter()
    for _ in range(requests):
        throttle()
    elapsed = time.perf_counter() - started
    return counter.transactions / requests, counter.statements / requests, 1000 * elapsed / requests


def run(label: str, url: str, requests: int) -> None:
    store = Store(url)
    try:
        account = SharedThrottle(store, f"bling:{uuid.uuid4().hex[:8]}", per_second=1_000_000)
        egress = BlingEgress(store, EgressSettings(group=f"bench-{uuid.uuid4().hex[:8]}"))
        # a window far above this loop's pace, so nobody waits: only the bookkeeping is measured
        egress.requests = dataclasses.replace(egress.requests, limit=10**9)
        both = ChainedThrottle(account, egress.throttle())
        merged_account = SharedThrottle(store, account.bucket, per_second=1_000_000, egress=egress)
        merged = ChainedThrottle(merged_account, egress.throttle(acquire=False))  # as auvo_bling/wiring.py
        base = measure(store, account, requests)
        full = measure(store, both, requests)
        one = measure(store, merged, requests)
        print(
            f"{label:10} account bucket only: {base[0]:.2f} transactions, {base[1]:.2f} statements, "
            f"{base[2]:.2f} ms per request"
        )
        print(
            f"{label:10} + IP-wide ceilings:  {full[0]:.2f} transactions, {full[1]:.2f} statements, "
            f"{full[2]:.2f} ms per request  (extra: {full[0] - base[0]:.2f} transactions, "
            f"{full[1] - base[1]:.2f} statements, {full[2] - base[2]:.2f} ms)"
        )
        print(
            f"{label:10} both in one transaction: {one[0]:.2f} transactions, {one[1]:.2f} statements, "
            f"{one[2]:.2f} ms per request  (extra: {one[0] - base[0]:.2f} transactions, "
            f"{one[1] - base[1]:.2f} statements, {one[2] - base[2]:.2f} ms)"
        )
    finally:
        store.dispose()


def fresh_pg_database(server_url: str) -> tuple[str, Callable[[], None]]:
    name = f"bench_egress_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{server_url.rsplit('/', 1)[0]}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.requests)
    url, drop = fresh_pg_database(args.pg)
    try:
        run("postgresql", url, args.requests)
    finally:
        drop()


if __name__ == "__main__":
    main()
