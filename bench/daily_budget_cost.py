"""What counting every Bling call against the daily budget costs per call.

The count is kept in the transaction that already reserves the call's rate-limit slot, so it adds
statements, not a round trip of its own. This measures, in one run, the time of one slot reservation
without and with the daily charge, on SQLite and (when reachable) PostgreSQL, from one thread, with
the bucket's rate set so high that nobody waits: the figure is the store's cost alone.

    python bench/daily_budget_cost.py [--calls 2000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid

import sqlalchemy as sa

from infra.store import DailyCharge, Store


def per_call_ms(store: Store, calls: int, *, charged: bool) -> tuple[float, float]:
    bucket = f"bench:{uuid.uuid4().hex[:8]}"
    charge = DailyCharge(bucket, "2026-12-02", calls * 10) if charged else None
    samples = []
    for _ in range(calls):
        began = time.perf_counter()
        if charge is None:
            store.reserve_slot(bucket, 1e-6, 1)
        else:
            store.reserve_slot(bucket, 1e-6, 1, daily=charge)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.mean(samples), samples[int(len(samples) * 0.95)]


def measure(name: str, store: Store, calls: int) -> None:
    per_call_ms(store, min(200, calls), charged=True)  # warm the pool and the statement cache
    plain = per_call_ms(store, calls, charged=False)
    charged = per_call_ms(store, calls, charged=True)
    print(
        f"{name:<10} slot only: mean {plain[0]:.3f} ms, p95 {plain[1]:.3f} ms | "
        f"slot + daily count: mean {charged[0]:.3f} ms, p95 {charged[1]:.3f} ms "
        f"(+{charged[0] - plain[0]:.3f} ms a call, same transaction)"
    )


def _fresh_pg(server_url: str) -> str | None:
    admin = sa.create_engine(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    name = f"ab_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no PostgreSQL here: SQLite only
        print(f"postgresql unreachable ({type(exc).__name__}); skipped")
        return None
    finally:
        admin.dispose()
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def _drop_pg(server_url: str, url: str) -> None:
    admin = sa.create_engine(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.sqlite3")
        measure("sqlite", store, args.calls)
        store.dispose()
    url = _fresh_pg(args.database_url)
    if url is not None:
        store = Store(url)
        try:
            measure("postgresql", store, args.calls)
        finally:
            store.dispose()
            _drop_pg(args.database_url, url)


if __name__ == "__main__":
    main()
