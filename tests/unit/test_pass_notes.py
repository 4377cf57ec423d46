"""The shared scheduler's notes for `status` (last heard by poll, each poller's schedule): noted
per pass in memory, written for every tenant in one transaction, the newest note of each winning,
kept for the next flush when the store is away. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from infra.store import Store
from producers.polling import SCHEDULE_PREFIX, PassNotes
from tests.unit import test_store_retention

store = test_store_retention.store  # the fixture: a store on SQLite and on PostgreSQL
NOW = datetime(2026, 12, 6, 22, 0, 0, tzinfo=UTC)


def test_many_tenants_passes_are_written_in_one_transaction_newest_first(store: Store) -> None:
    clock = [NOW]
    notes = PassNotes(store, clock=lambda: clock[0])
    for i in range(200):
        tenant = f"t{i:03d}"
        notes.heard(tenant)("auvo.customers")
        notes.scheduled(tenant)("auvo.customers", 32.0)
    clock[0] = NOW + timedelta(seconds=5)
    notes.heard("t007")("auvo.customers")  # a later pass of the same poller: its note wins
    notes.scheduled("t007")("auvo.customers", 5.0)
    begins = [0]

    @event.listens_for(store.engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        begins[0] += 1

    assert notes.flush() == 400
    assert begins[0] == 1
    assert store.last_heard("t007")["auvo.customers"]["poll"] == NOW + timedelta(seconds=5)
    assert store.last_heard("t150")["auvo.customers"]["poll"] == NOW
    value, _ = store.all_cursors("t007")[SCHEDULE_PREFIX + "auvo.customers"]
    assert json.loads(value) == {
        "interval_seconds": 5.0,
        "next_pass_at": (NOW + timedelta(seconds=10)).isoformat(),
    }
    assert notes.flush() == 0  # nothing new


def test_notes_are_kept_when_the_store_is_away(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = PassNotes(store, clock=lambda: NOW)
    notes.heard("acme")("bling.contacts")

    def away(*args: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(store, "note_passes", away)
    with pytest.raises(OSError):
        notes.flush()
    monkeypatch.undo()
    assert notes.flush() == 1
    assert store.last_heard("acme")["bling.contacts"]["poll"] == NOW
