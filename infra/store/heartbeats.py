"""The store: each process's heartbeat, and the per-minute flow history the Operação charts draw.

A beat is one upsert of the process's own row (cheap enough for every few seconds); a process that
stops cleanly deletes its row, so a row whose beat is old is one that died or hangs (`is_stale`).
The history is written once a minute per process (auvo_bling/heartbeat.py aggregates in memory):
counts add up in the same row when several processes handle one tenant's flow in the same minute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, select, tuple_

from infra.store.base import StoreBase, aware
from infra.store.tables import flow_minutes, process_heartbeats

# upper bounds (seconds) of the change-to-write latency buckets; the last bucket is "longer"
LATENCY_BOUNDS: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)
BLING_FLOW = "bling"  # the flow_minutes row that carries the tenant's Bling calls of the day


@dataclass(frozen=True)
class ProcessBeat:
    process: str
    role: str
    threads: int
    tenants: tuple[str, ...]
    started_at: datetime
    beat_at: datetime
    last_flow: str | None = None
    last_event_id: str | None = None
    last_event_at: datetime | None = None

    def is_stale(self, now: datetime, interval_seconds: float, factor: float) -> bool:
        """Missed `factor` beats in a row: the process died without its clean stop, or hangs."""
        return (now - self.beat_at).total_seconds() > interval_seconds * factor


@dataclass(frozen=True)
class FlowMinute:
    tenant: str
    flow: str
    minute: datetime
    events: int
    latency_buckets: tuple[int, ...]
    bling_calls_day: int | None = None

    def latency_quantile(self, q: float) -> float | None:
        """The bucket bound under which a fraction `q` of the minute's events were written."""
        total = sum(self.latency_buckets)
        if total == 0:
            return None
        seen = 0
        for count, bound in zip(self.latency_buckets, (*LATENCY_BOUNDS, float("inf")), strict=True):
            seen += count
            if seen >= q * total:
                return bound
        return float("inf")


# rows per statement of a flush (SQLite binds at most 32,766 parameters in a statement)
FLUSH_CHUNK = 500


def _chunks(keys: list[tuple[str, str, datetime]], size: int) -> list[list[tuple[str, str, datetime]]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def _merge(a: FlowMinute, b: FlowMinute) -> FlowMinute:
    """Two counts of one (tenant, flow, minute) in the same flush, as one."""
    calls = [c for c in (a.bling_calls_day, b.bling_calls_day) if c is not None]
    return FlowMinute(
        a.tenant,
        a.flow,
        a.minute,
        a.events + b.events,
        tuple(x + y for x, y in zip(a.latency_buckets, b.latency_buckets, strict=True)),
        max(calls) if calls else None,
    )


def _buckets_text(buckets: tuple[int, ...]) -> str:
    return ",".join(str(n) for n in buckets)


def _buckets_of(text: str) -> tuple[int, ...]:
    values = [int(n) for n in text.split(",") if n]
    width = len(LATENCY_BOUNDS) + 1
    return tuple((values + [0] * width)[:width])


class Heartbeats(StoreBase):
    def beat(self, beat: ProcessBeat) -> None:
        values = {
            "process": beat.process,
            "role": beat.role,
            "threads": beat.threads,
            "tenants": json.dumps(list(beat.tenants)),
            "last_flow": beat.last_flow,
            "last_event_id": beat.last_event_id,
            "last_event_at": beat.last_event_at,
            "started_at": beat.started_at,
            "beat_at": beat.beat_at,
        }
        with self.transaction() as conn:
            self._upsert(conn, process_heartbeats, values, ["process"])

    def forget_process(self, process: str) -> None:
        with self.transaction() as conn:
            conn.execute(delete(process_heartbeats).where(process_heartbeats.c.process == process))

    def process_beats(self) -> list[ProcessBeat]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(process_heartbeats).order_by(process_heartbeats.c.process)).all()
        return [
            ProcessBeat(
                process=row.process,
                role=row.role,
                threads=row.threads,
                tenants=tuple(json.loads(row.tenants)),
                started_at=aware(row.started_at),
                beat_at=aware(row.beat_at),
                last_flow=row.last_flow,
                last_event_id=row.last_event_id,
                last_event_at=aware(row.last_event_at) if row.last_event_at else None,
            )
            for row in rows
        ]

    def add_flow_minutes(self, minutes: list[FlowMinute]) -> None:
        """Add each minute's counts to what other processes wrote for it (one transaction).

        A handful of statements for any number of rows: a process serving a thousand companies
        flushes a thousand `bling` rows a minute. Every row is first made to exist (insert, or
        nothing if another process did), then locked in key order, so two processes flushing the
        same minutes neither collide on an insert nor deadlock on the locks."""
        if not minutes:
            return
        table = flow_minutes
        merged: dict[tuple[str, str, datetime], FlowMinute] = {}
        for m in minutes:
            key = (m.tenant, m.flow, aware(m.minute))
            merged[key] = _merge(merged[key], m) if key in merged else m
        keys = sorted(merged)
        with self.transaction() as conn:
            for chunk in _chunks(keys, FLUSH_CHUNK):
                conn.execute(
                    self._insert(table).on_conflict_do_nothing(index_elements=["tenant", "flow", "minute"]),
                    [
                        {
                            "tenant": t,
                            "flow": f,
                            "minute": at,
                            "events": 0,
                            "latency_buckets": _buckets_text((0,) * len(merged[(t, f, at)].latency_buckets)),
                            "bling_calls_day": None,
                        }
                        for t, f, at in chunk
                    ],
                )
                rows = conn.execute(
                    select(table)
                    .where(tuple_(table.c.tenant, table.c.flow, table.c.minute).in_(chunk))
                    .order_by(table.c.tenant, table.c.flow, table.c.minute)
                    .with_for_update()
                ).all()
                updates = []
                for row in rows:
                    m = merged[(row.tenant, row.flow, aware(row.minute))]
                    summed = tuple(
                        a + b
                        for a, b in zip(_buckets_of(row.latency_buckets), m.latency_buckets, strict=True)
                    )
                    calls = [c for c in (row.bling_calls_day, m.bling_calls_day) if c is not None]
                    updates.append(
                        {
                            "k_tenant": row.tenant,
                            "k_flow": row.flow,
                            "k_minute": row.minute,
                            "v_events": row.events + m.events,
                            "v_buckets": _buckets_text(summed),
                            "v_calls": max(calls) if calls else None,
                        }
                    )
                if updates:
                    conn.execute(
                        table.update()
                        .where(
                            table.c.tenant == bindparam("k_tenant"),
                            table.c.flow == bindparam("k_flow"),
                            table.c.minute == bindparam("k_minute"),
                        )
                        .values(
                            events=bindparam("v_events"),
                            latency_buckets=bindparam("v_buckets"),
                            bling_calls_day=bindparam("v_calls"),
                        ),
                        updates,
                    )

    def flow_minutes_since(self, since: datetime, tenant: str | None = None) -> list[FlowMinute]:
        stmt = select(flow_minutes).where(flow_minutes.c.minute >= since)
        if tenant is not None:
            stmt = stmt.where(flow_minutes.c.tenant == tenant)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(flow_minutes.c.minute)).all()
        return [
            FlowMinute(
                tenant=row.tenant,
                flow=row.flow,
                minute=aware(row.minute),
                events=row.events,
                latency_buckets=_buckets_of(row.latency_buckets),
                bling_calls_day=row.bling_calls_day,
            )
            for row in rows
        ]


def minute_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def minutes_back(now: datetime, minutes: int) -> datetime:
    return minute_of(now) - timedelta(minutes=minutes)
