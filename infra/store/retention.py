"""Keeping the store bounded: what may be pruned, what must never be, and the leader's pruning loop.

Two tables grow with the number of *events*: `processed_events` (one row per handled event and
consumer) and `record_history` (what the pollers decided and what became of each event, for
"Por que não integrou?"). Everything else is one row per *entity* (upserted, so it grows with the customers
and jobs a company has, not with how often they change) or per lease. So:

- `processed_events` older than `retention_days` are deleted. They are the cheapest guard (a copy
  of a handled event is dropped without an API call), not the only one: a pruned event that comes
  back (a DLQ replay, a re-poll, a publish twice) meets the per-entity guards below, which turn it
  into `skipped_stale` (an older version than the one applied), `skipped_echo`/`unchanged` (the
  fingerprint of what we wrote equals it) or an update of the linked record, never a second create.
- `record_history` older than `retention_days` is deleted: a record's story reaches back as far
  as the retention does (the id map still says what was written, whatever its age).
- `dead_letters` index rows that are no longer in the DLQ (replayed, purged) and were last seen
  before the cutoff are deleted, with the replay operations that started before it; rows of letters
  still dead or parked are kept whatever their age (parked ones end with their own retention).
- `applied_versions` are kept: they are what makes a replayed old event stale.
- `fingerprints` are kept: they make a replay of the same state a no-op, and they suppress echoes
  and detect conflicts in `both` mode; pruning one would turn the next replay into a write.
- `write_intents` are kept: a row left over means a create whose answer was lost, and it is what
  makes the next attempt look the record up (by its marker) before creating; pruning it could
  create a duplicate. Each is cleared when its entity next commits, so there are at most one per
  entity, and in practice a handful.
- `flow_minutes` (the Operação page's charts) older than `metrics_history_days` are deleted: a
  short history (a week by default) is all the charts draw, and it grows with time, not entities.
- `locks` whose lease ran out before the cutoff are deleted: a holder that died long ago (a lease
  is taken over once expired anyway; a live holder renews within seconds or minutes).
- The id map, cursors, tokens, counters, the customer index and the deletion records are state
  the integration cannot rebuild without asking the providers again; they are never pruned.

Deletes run in small batches (short transactions: on SQLite every write serialises behind them),
through the index of migration 0002. On PostgreSQL the table is vacuumed afterwards, so the freed
space is reused at once instead of whenever autovacuum comes by; SQLite reuses freed pages itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy import ColumnElement, Connection, Table, delete, func, literal_column, select, text

from infra.store import Store
from infra.store.tables import (
    applied_versions,
    dead_letters,
    dlq_operations,
    fingerprints,
    flow_minutes,
    locks,
    processed_events,
    record_history,
    write_intents,
)

log = structlog.get_logger("retention")

# how often the producer leader prunes, and how soon after it starts (not at once: a restart loop
# must not turn into a delete loop, and the first minute of a start is busy enough)
PRUNE_EVERY_SECONDS = 3600.0
FIRST_PRUNE_AFTER_SECONDS = 60.0
BATCH_ROWS = 5000
METRICS_HISTORY_DAYS = 7.0

# the tables kept on purpose, with the reason `db prune` prints for them
KEPT = {
    "applied_versions": "one per entity; what makes a replayed old event stale",
    "fingerprints": "one per record; what makes a replayed event a no-op and drops echoes",
    "write_intents": "creates whose answer was lost; the lookup before the next create",
}


@dataclass
class PruneReport:
    """What one pruning pass removed (or, dry, would remove), per table, and what it kept."""

    cutoff: datetime
    retention_days: float
    dry_run: bool
    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    @property
    def total_removed(self) -> int:
        return sum(self.removed.values())

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        out = [
            f"retention {self.retention_days:g} days: older than {self.cutoff.isoformat(timespec='seconds')}"
        ]
        out.append(f"  processed_events  {verb} {self.removed.get('processed_events', 0)} event ids")
        out.append(f"  record_history    {verb} {self.removed.get('record_history', 0)} history rows")
        out.append(f"  locks             {verb} {self.removed.get('locks', 0)} expired leases")
        out.append(f"  dead_letters      {verb} {self.removed.get('dead_letters', 0)} replayed or purged")

        out.append(f"  flow_minutes      {verb} {self.removed.get('flow_minutes', 0)} chart minutes")
        for table, reason in KEPT.items():
            out.append(f"  {table:<17} kept {self.kept.get(table, 0)} ({reason})")
        return out


def prune(
    store: Store,
    *,
    retention_days: float,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
    count_kept: bool = True,
    metrics_history_days: float = METRICS_HISTORY_DAYS,
) -> PruneReport:
    """Delete what is older than `retention_days` before `now` (see the module docstring for what).

    `count_kept` False skips counting the tables kept on purpose (three full counts): the hourly
    background pass only logs what it removed.
    """
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    report = PruneReport(cutoff, retention_days, dry_run)
    old_event = processed_events.c.processed_at < cutoff
    old_history = record_history.c.at < cutoff
    old_lease = locks.c.expires_at < cutoff.timestamp()
    old_letter = (dead_letters.c.last_seen < cutoff) & dead_letters.c.state.in_(("replayed", "purged"))
    old_operation = dlq_operations.c.started_at < cutoff
    old_minute = flow_minutes.c.minute < now - timedelta(days=metrics_history_days)
    if dry_run:
        with store.engine.connect() as conn:
            report.removed["processed_events"] = _count(conn, processed_events, old_event)
            report.removed["record_history"] = _count(conn, record_history, old_history)
            report.removed["locks"] = _count(conn, locks, old_lease)
            report.removed["dead_letters"] = _count(conn, dead_letters, old_letter)
            report.removed["flow_minutes"] = _count(conn, flow_minutes, old_minute)
    else:
        report.removed["processed_events"] = _delete_in_batches(
            store, processed_events, old_event, batch_rows
        )
        report.removed["record_history"] = _delete_in_batches(store, record_history, old_history, batch_rows)
        with store.transaction() as conn:
            report.removed["locks"] = conn.execute(delete(locks).where(old_lease)).rowcount or 0
            conn.execute(delete(dlq_operations).where(old_operation))
            gone = conn.execute(delete(flow_minutes).where(old_minute)).rowcount
            report.removed["flow_minutes"] = gone or 0
        report.removed["dead_letters"] = _delete_in_batches(store, dead_letters, old_letter, batch_rows)
        for table in ("processed_events", "record_history"):
            if report.removed[table] and not store.is_sqlite:
                _vacuum(store, table)
    if not count_kept:
        return report
    with store.engine.connect() as conn:
        for table in (applied_versions, fingerprints, write_intents):
            report.kept[table.name] = _count(conn, table, None)
    return report


def _count(conn: Connection, table: Table, where: ColumnElement[bool] | None) -> int:
    stmt = select(func.count()).select_from(table)
    if where is not None:
        stmt = stmt.where(where)
    return int(conn.execute(stmt).scalar_one())


def _delete_in_batches(store: Store, table: Table, where: ColumnElement[bool], batch_rows: int) -> int:
    """Delete the matching rows `batch_rows` at a time, each batch its own short transaction.

    The batch is picked through the table's age index and deleted by physical row id (SQLite's
    rowid, PostgreSQL's ctid): a `(tenant, consumer, event_id) IN (subquery)` made SQLite scan
    the whole table for every batch.
    """
    row_id = literal_column("rowid" if store.is_sqlite else "ctid")
    batch = select(row_id).select_from(table).where(where).limit(batch_rows)
    if store.is_sqlite:
        stmt = delete(table).where(row_id.in_(batch.scalar_subquery()))
    else:
        stmt = delete(table).where(row_id == func.any(func.array(batch.scalar_subquery())))
    removed = 0
    while True:
        with store.transaction() as conn:
            n = conn.execute(stmt).rowcount or 0
        removed += n
        if n < batch_rows:
            return removed


def _vacuum(store: Store, table: str) -> None:
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text(f"VACUUM (ANALYZE) {table}"))


class Lease(Protocol):
    def held(self) -> bool: ...


def run_pruner(
    store: Store,
    leader: Lease,
    retention_days: float,
    stop: threading.Event,
    *,
    every_seconds: float = PRUNE_EVERY_SECONDS,
    first_after_seconds: float = FIRST_PRUNE_AFTER_SECONDS,
    metrics_history_days: float = METRICS_HISTORY_DAYS,
) -> None:
    """The producer leader's background pruning: a pass every hour while this process leads.

    The tables are shared by every tenant and process of the deployment, so one leader (that of
    the deployment's first tenant) prunes for all; a standby only checks the lease. A failing pass
    (the database away) is logged and retried next time: this thread must never end the process.
    """
    wait = first_after_seconds
    while not stop.wait(wait):
        wait = every_seconds
        try:
            if not leader.held():
                continue
            report = prune(
                store,
                retention_days=retention_days,
                count_kept=False,
                metrics_history_days=metrics_history_days,
            )
            log.info(
                "pruned the store",
                processed_events=report.removed.get("processed_events", 0),
                record_history=report.removed.get("record_history", 0),
                locks=report.removed.get("locks", 0),
                dead_letters=report.removed.get("dead_letters", 0),
                flow_minutes=report.removed.get("flow_minutes", 0),
                cutoff=report.cutoff.isoformat(),
            )
        except Exception:
            log.exception("pruning failed; retried at the next pass")
