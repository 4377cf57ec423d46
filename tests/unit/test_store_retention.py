"""Pruning the store (infra/store/retention.py) on SQLite and PostgreSQL: what goes, what stays."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from infra.store import Store
from infra.store.retention import prune, run_pruner
from infra.store.tables import locks, processed_events

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TENANT = "acme"
CONSUMER = "to-bling.contacts"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = (
        f"sqlite:///{tmp_path / 's.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    s = Store(url)
    try:
        yield s
    finally:
        s.dispose()


def handled(store: Store, event_id: str, at: datetime, entity_id: str = "7") -> None:
    """What a consumer's commit leaves for one event, with the processed row dated `at`."""
    with store.transaction() as conn:
        store.mark_processed(conn, TENANT, CONSUMER, event_id, "created")
        store.set_applied_version(conn, TENANT, CONSUMER, entity_id, at.isoformat())
        store.set_fingerprint(conn, TENANT, "bling", "customer", entity_id, "fp")
        conn.execute(
            update(processed_events).where(processed_events.c.event_id == event_id).values(processed_at=at)
        )


def event_ids(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return {r.event_id for r in conn.execute(select(processed_events.c.event_id))}


def test_prune_removes_only_event_ids_older_than_the_retention(store: Store) -> None:
    for i in range(23):
        handled(store, f"old-{i}", NOW - timedelta(days=31, minutes=i), entity_id=str(i % 5))
    handled(store, "just-inside", NOW - timedelta(days=29, hours=23))
    handled(store, "recent", NOW - timedelta(hours=1))
    store.note_intent(TENANT, CONSUMER, "in-doubt")
    with store.transaction() as conn:
        store.link(conn, TENANT, "customer", "7", "900")

    dry = prune(store, retention_days=30, now=NOW, dry_run=True)
    assert dry.removed == {
        "processed_events": 23,
        "record_history": 0,
        "locks": 0,
        "dead_letters": 0,
        "flow_minutes": 0,
    }
    assert len(event_ids(store)) == 25  # a dry run removes nothing

    report = prune(store, retention_days=30, now=NOW, batch_rows=5)  # several batches
    assert report.removed["processed_events"] == 23
    assert event_ids(store) == {"just-inside", "recent"}
    # the per-entity guards stay: versions, fingerprints, the intent of a create in doubt, the id map
    assert report.kept == {"applied_versions": 6, "fingerprints": 6, "write_intents": 1}
    assert store.applied_version(TENANT, CONSUMER, "3") is not None
    assert store.fingerprint(TENANT, "bling", "customer", "3") == "fp"
    assert store.intent_noted_at(TENANT, CONSUMER, "in-doubt") is not None
    assert store.bling_id_for(TENANT, "customer", "7") == "900"
    assert prune(store, retention_days=30, now=NOW).removed["processed_events"] == 0


def test_prune_removes_leases_that_ran_out_before_the_cutoff_only(store: Store) -> None:
    assert store.try_lock("dead-long-ago", "host:1:x", ttl_seconds=30)
    assert store.try_lock("live", "host:2:x", ttl_seconds=30)
    with store.transaction() as conn:
        conn.execute(
            update(locks)
            .where(locks.c.name == "dead-long-ago")
            .values(expires_at=(NOW - timedelta(days=40)).timestamp())
        )
    report = prune(store, retention_days=30, now=NOW)
    assert report.removed["locks"] == 1
    with store.engine.connect() as conn:
        assert [r.name for r in conn.execute(select(locks.c.name))] == ["live"]


class Lease:
    def __init__(self, held: bool) -> None:
        self.is_held = held
        self.asked = 0

    def held(self) -> bool:
        self.asked += 1
        return self.is_held


def test_background_pruner_prunes_only_while_this_process_leads(store: Store) -> None:
    handled(store, "old", datetime.now(UTC) - timedelta(days=40))
    stop = threading.Event()
    lease = Lease(held=False)
    thread = threading.Thread(
        target=run_pruner,
        args=(store, lease, 30.0, stop),
        kwargs={"every_seconds": 0.05, "first_after_seconds": 0.05},
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while lease.asked < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lease.asked >= 3
        assert event_ids(store) == {"old"}  # a standby never prunes
        lease.is_held = True
        while event_ids(store) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert event_ids(store) == set()
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_background_pruner_survives_a_failing_pass(store: Store) -> None:
    class Broken(Lease):
        def held(self) -> bool:
            self.asked += 1
            if self.asked == 1:
                raise RuntimeError("database away")
            return True

    handled(store, "old", datetime.now(UTC) - timedelta(days=40))
    stop = threading.Event()
    lease = Broken(held=True)
    thread = threading.Thread(
        target=run_pruner,
        args=(store, lease, 30.0, stop),
        kwargs={"every_seconds": 0.05, "first_after_seconds": 0.05},
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while event_ids(store) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert event_ids(store) == set() and lease.asked >= 2
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(5)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(processed_events)).scalar_one() == 0
