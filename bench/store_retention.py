"""Store size with retention: after 100,000 handled events, then after 1,000,000, in one run.

A simulated deployment handles `--per-day` `auvo.customer.changed` events a day (default 2,000:
a company whose customers change all day long), spread over a population of `--entities`
customers (default 20,000; events pick one at random, so after 100,000 events nearly all have been
seen). Every event leaves what the customer consumer's commit leaves (consumers/base.py): a
processed-event row, the entity's applied version, the two fingerprints (Bling and Auvo side), the
id-map link on its first event, a counter bump; a create notes and clears a write intent, and one
create in a thousand stays in doubt (its intent is left until the entity's next event clears it).
Rows are written in bulk, one simulated hour per transaction, with the simulated clock as their
time. Every simulated hour the producer leader's pruning pass runs (`infra.store.retention.prune`,
the function the background thread and `db prune` call) with that clock as `now`.

At 100,000 and at 1,000,000 events the store's size is measured: SQLite, the database file after a
WAL checkpoint (freed pages stay in the file and are reused, so this is what the disk holds);
PostgreSQL, the sum of `pg_total_relation_size` over the store's tables (heap, indexes, TOAST). The
ratio of the two is printed (goal: at most 1.10).

    python bench/store_retention.py [--backend sqlite|postgresql|both] [--events 1000000]
                                    [--per-day 2000] [--entities 20000] [--retention-days 30]
                                    [--no-prune] [--pg postgresql://postgres@127.0.0.1:5432/postgres]

`--no-prune` shows what the same traffic leaves without retention.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from infra.store import Store, metadata
from infra.store.retention import prune
from infra.store.tables import applied_versions, fingerprints, id_map, processed_events, write_intents

TENANT = "default"
CONSUMER = "to-bling.contacts"
START = datetime(2026, 1, 1, tzinfo=UTC)
IN_DOUBT_SHARE = 0.001
NAMESPACE = uuid.UUID("6f1c9a7e-3b1d-4c2a-9e57-0b1f3a5c7d90")


@dataclass
class Sample:
    events: int
    simulated_days: float
    size_bytes: int
    rows: dict[str, int]


def insert(store: Store, table: sa.Table) -> Any:
    return (sqlite if store.is_sqlite else postgresql).insert(table)


def fp(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


class Traffic:
    """The simulated consumer: what one hour of handled events leaves in the store."""

    def __init__(self, store: Store, entities: int, seed: int = 1) -> None:
        self.store = store
        self.entities = entities
        self.rng = random.Random(seed)
        self.linked: set[int] = set()
        self.handled = 0

    def hour(self, at: datetime, n: int) -> None:
        processed, versions, prints, links, intents_left, cleared = [], {}, {}, [], [], set()
        for i in range(n):
            entity = self.rng.randrange(self.entities)
            when = at + timedelta(seconds=i * 3600 / max(n, 1))
            version = when.strftime("%Y-%m-%dT%H:%M:%S.%f")
            event_id = str(uuid.uuid5(NAMESPACE, f"auvo|customer|{entity}|{version}"))
            creating = entity not in self.linked
            outcome = "created" if creating else "updated"
            if creating and self.rng.random() < IN_DOUBT_SHARE:
                intents_left.append(
                    {"tenant": TENANT, "consumer": CONSUMER, "entity_id": str(entity), "created_at": when}
                )
                continue  # the create's answer was lost: the event is retried later, nothing recorded
            cleared.add(str(entity))  # the commit clears any intent of the entity
            if creating:
                self.linked.add(entity)
                links.append(
                    {
                        "tenant": TENANT,
                        "entity": "customer",
                        "auvo_id": str(entity),
                        "bling_id": str(10**9 + entity),
                        "updated_at": when,
                    }
                )
            processed.append(
                {
                    "tenant": TENANT,
                    "consumer": CONSUMER,
                    "event_id": event_id,
                    "outcome": outcome,
                    "processed_at": when,
                }
            )
            versions[str(entity)] = {
                "tenant": TENANT,
                "consumer": CONSUMER,
                "entity_id": str(entity),
                "version": version,
            }
            for system, entity_id in (("auvo", str(entity)), ("bling", str(10**9 + entity))):
                prints[(system, entity_id)] = {
                    "tenant": TENANT,
                    "system": system,
                    "entity": "customer",
                    "entity_id": entity_id,
                    "fingerprint": fp(entity, version),
                    "written_at": when,
                }
        with self.store.transaction() as conn:
            if cleared:
                conn.execute(
                    write_intents.delete().where(
                        write_intents.c.tenant == TENANT, write_intents.c.entity_id.in_(cleared)
                    )
                )
            if intents_left:
                conn.execute(insert(self.store, write_intents).on_conflict_do_nothing(), intents_left)
            if links:
                conn.execute(insert(self.store, id_map).on_conflict_do_nothing(), links)
            if processed:
                conn.execute(insert(self.store, processed_events).on_conflict_do_nothing(), processed)
            if versions:
                stmt = insert(self.store, applied_versions)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["tenant", "consumer", "entity_id"],
                        set_={"version": stmt.excluded.version},
                    ),
                    list(versions.values()),
                )
            if prints:
                stmt = insert(self.store, fingerprints)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["tenant", "system", "entity", "entity_id"],
                        set_={
                            "fingerprint": stmt.excluded.fingerprint,
                            "written_at": stmt.excluded.written_at,
                        },
                    ),
                    list(prints.values()),
                )
            for outcome in ("created", "updated"):
                self.store.bump(
                    conn,
                    TENANT,
                    f"{CONSUMER}.{outcome}",
                    sum(1 for p in processed if p["outcome"] == outcome),
                )
        self.handled += n


def size_of(store: Store, sqlite_path: Path | None) -> int:
    if sqlite_path is not None:
        raw = store.engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        wal = sqlite_path.with_name(sqlite_path.name + "-wal")
        return sqlite_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                    " WHERE c.relname = ANY(:names) AND c.relkind = 'r'"
                ),
                {"names": [t.name for t in metadata.sorted_tables]},
            ).scalar_one()
        )


def rows(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (processed_events, applied_versions, fingerprints, id_map, write_intents)
        }


def simulate(store: Store, sqlite_path: Path | None, args: argparse.Namespace) -> tuple[list[Sample], float]:
    traffic = Traffic(store, args.entities)
    per_hour = args.per_day / 24
    marks = sorted({min(100_000, args.events), args.events})
    samples: list[Sample] = []
    started = time.monotonic()
    hour = 0
    owed = 0.0
    while traffic.handled < args.events:
        owed += per_hour
        n = min(int(owed), marks[0] - traffic.handled)  # land exactly on each measuring point
        owed -= n
        at = START + timedelta(hours=hour)
        traffic.hour(at, n)
        hour += 1
        if not args.no_prune:
            prune(store, retention_days=args.retention_days, now=at + timedelta(hours=1), count_kept=False)
        if marks and traffic.handled >= marks[0]:
            marks.pop(0)
            samples.append(Sample(traffic.handled, hour / 24, size_of(store, sqlite_path), rows(store)))
            s = samples[-1]
            print(
                f"  {s.events:>9,} events, day {s.simulated_days:5.0f}: {s.size_bytes / 2**20:8.2f} MiB  "
                + "  ".join(f"{k}={v:,}" for k, v in s.rows.items()),
                flush=True,
            )
    return samples, time.monotonic() - started


@contextmanager
def backend(kind: str, pg: str) -> Iterator[tuple[Store, Path | None]]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "retention.sqlite3"
            store = Store(f"sqlite:///{path}")
            try:
                yield store, path
            finally:
                store.dispose()
        return
    name = f"bench_retention_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        pg.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    store = Store(f"{pg.rsplit('/', 1)[0]}/{name}")
    try:
        yield store, None
    finally:
        store.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=int, default=2_000)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--retention-days", type=float, default=30.0)
    parser.add_argument("--no-prune", action="store_true")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"{args.events:,} events, {args.per_day:,}/day over {args.entities:,} customers, "
        + (
            "no pruning"
            if args.no_prune
            else f"retention {args.retention_days:g} days, pruned every simulated hour"
        )
    )
    for kind in kinds:
        print(f"{kind}:")
        with backend(kind, args.pg) as (store, path):
            samples, seconds = simulate(store, path, args)
        first, last = samples[0], samples[-1]
        print(
            f"  ratio {last.events:,} / {first.events:,} events: "
            f"{last.size_bytes / first.size_bytes:.3f}  ({seconds:.0f} s)"
        )


if __name__ == "__main__":
    main()
