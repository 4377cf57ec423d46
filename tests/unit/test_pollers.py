"""Producers: read since the cursor, publish, and only then advance the cursor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import Envelope
from infra.errors import ApiUnavailable, NotFound
from infra.store import Store
from producers.auvo_customers import CURSOR as AUVO_CURSOR
from producers.auvo_customers import AuvoCustomerPoller, since_filter
from producers.bling_contacts import CURSOR as BLING_CURSOR
from producers.bling_contacts import BlingContactPoller, window_filters


class FakePublisher:
    def __init__(self, fail_after: int | None = None) -> None:
        self.published: list[Envelope] = []
        self.fail_after = fail_after

    def publish(self, envelope: Envelope) -> None:
        if self.fail_after is not None and len(self.published) >= self.fail_after:
            raise ApiUnavailable("broker gone")
        self.published.append(envelope)


class FakeAuvo:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.filters: list[dict[str, Any] | None] = []

    def iter_customers(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        self.filters.append(param_filter)
        since = (param_filter or {}).get("dateLastUpdate")
        for record in sorted(self.records, key=lambda r: r["id"]):
            if since is None or record["dateLastUpdate"] >= since:
                yield dict(record)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")


def customer(id_: int, stamp: str) -> dict[str, Any]:
    return {"id": id_, "description": f"Cliente {id_}", "dateLastUpdate": stamp}


def test_first_pass_reads_everything_and_sets_the_cursor_to_the_newest_change(store: Store) -> None:
    auvo = FakeAuvo([customer(1, "2026-11-01T10:00:00"), customer(2, "2026-11-02T09:00:00")])
    publisher = FakePublisher()
    poller = AuvoCustomerPoller(auvo, publisher, store, overlap_seconds=30)
    assert poller.poll_once() == 2
    assert auvo.filters == [{}]
    assert store.cursor("default", AUVO_CURSOR) == "2026-11-02T09:00:00"
    assert [e.entity_id for e in publisher.published] == ["1", "2"]


def test_next_pass_rereads_the_overlap_but_publishes_each_change_once(store: Store) -> None:
    auvo = FakeAuvo([customer(1, "2026-11-01T10:00:00"), customer(2, "2026-11-02T09:00:00")])
    publisher = FakePublisher()
    now = datetime(2026, 11, 2, 12, 0, 10, tzinfo=UTC)  # 09:00:10 in Brasília
    poller = AuvoCustomerPoller(auvo, publisher, store, overlap_seconds=30, clock=lambda: now)
    poller.poll_once()
    auvo.records.append(customer(3, "2026-11-02T09:00:10"))
    assert poller.poll_once() == 1  # customer 2 is in the overlap window, but already went out
    assert auvo.filters[-1] == {"dateLastUpdate": "2026-11-02T08:59:30"}
    assert [e.entity_id for e in publisher.published] == ["1", "2", "3"]


def test_a_changed_customer_is_a_new_event_with_a_new_id(store: Store) -> None:
    auvo = FakeAuvo([customer(1, "2026-11-01T10:00:00")])
    publisher = FakePublisher()
    now = datetime(2026, 11, 3, 13, 0, 0, tzinfo=UTC)  # 10:00 in Brasília
    poller = AuvoCustomerPoller(auvo, publisher, store, clock=lambda: now)
    poller.poll_once()
    auvo.records[0] = customer(1, "2026-11-03T10:00:00")
    poller.poll_once()
    first, second = publisher.published
    assert first.event_id != second.event_id
    assert second.entity_version == "2026-11-03T10:00:00"


def test_cursor_does_not_move_when_a_publish_fails(store: Store) -> None:
    auvo = FakeAuvo([customer(i, f"2026-11-0{i}T10:00:00") for i in range(1, 4)])
    poller = AuvoCustomerPoller(auvo, FakePublisher(fail_after=1), store)
    with pytest.raises(ApiUnavailable):
        poller.poll_once()
    assert store.cursor("default", AUVO_CURSOR) is None  # the next pass reads all three again
    retry = AuvoCustomerPoller(auvo, FakePublisher(), store)
    assert retry.poll_once() == 3


def test_a_quiet_source_stops_re_listing_its_last_changes_but_not_a_late_commit(store: Store) -> None:
    """The cursor is the newest stamp; once the source is quiet, `cursor - overlap` would re-list the
    last burst on every pass forever. The window starts at most overlap + clock skew before the
    previous pass started, which still covers a change committed late (stamped within the overlap
    before its commit) after that pass."""
    burst = [customer(i, "2026-11-02T09:00:00") for i in range(1, 151)]
    auvo = FakeAuvo(burst)
    clock = [datetime(2026, 11, 2, 12, 0, 5, tzinfo=UTC)]  # 09:00:05 in Brasília
    poller = AuvoCustomerPoller(auvo, FakePublisher(), store, overlap_seconds=30, clock=lambda: clock[0])
    poller.poll_once()
    clock[0] += timedelta(minutes=10)
    poller.poll_once()
    assert auvo.filters[-1] == {"dateLastUpdate": "2026-11-02T08:59:30"}  # the previous pass was 10 min ago
    clock[0] += timedelta(seconds=32)
    poller.poll_once()
    # previous pass at 09:10:05, minus 30 s overlap and 60 s skew: the burst is no longer listed
    assert auvo.filters[-1] == {"dateLastUpdate": "2026-11-02T09:08:35"}
    # a change stamped 20 s before the last pass started, committed after it: still in the next window
    auvo.records.append(customer(999, "2026-11-02T09:10:17"))
    clock[0] += timedelta(seconds=32)
    assert poller.poll_once() == 1


def test_since_filter_subtracts_the_overlap_in_auvo_time() -> None:
    assert since_filter(None, 30) == {}
    assert since_filter("2026-11-02T00:00:10", 30) == {"dateLastUpdate": "2026-11-01T23:59:40"}


class FakeBling:
    def __init__(self, contacts: dict[int, dict[str, Any]]) -> None:
        self.contacts = contacts
        self.filters: list[dict[str, Any]] = []
        self.deleted_after_list: set[int] = set()

    def iter_contacts(self, **filters: Any) -> Iterator[dict[str, Any]]:
        self.filters.append(filters)
        for contact_id in sorted(self.contacts):
            yield {"id": contact_id, "nome": self.contacts[contact_id]["nome"]}

    def get_contact(self, contact_id: int) -> dict[str, Any]:
        if contact_id in self.deleted_after_list:
            raise NotFound("gone")
        return dict(self.contacts[contact_id], id=contact_id)


def test_bling_poller_windows_and_cursor(store: Store) -> None:
    clock = iter([datetime(2026, 11, 2, 12, 0, 0, tzinfo=UTC), datetime(2026, 11, 2, 12, 0, 5, tzinfo=UTC)])
    bling = FakeBling({16_000_000_001: {"nome": "Ana"}, 16_000_000_002: {"nome": "Bia"}})
    publisher = FakePublisher()
    poller = BlingContactPoller(bling, publisher, store, overlap_seconds=10, clock=lambda: next(clock))
    assert poller.poll_once() == 2
    assert bling.filters[0] == {"criterio": 1}  # first pass: every contato, not just "últimos incluídos"
    # the window ends 2 s before the pass (LAG: whole seconds Bling has finished stamping)
    assert store.cursor("default", BLING_CURSOR) == "2026-11-02T11:59:58+00:00"
    assert poller.poll_once() == 0  # same content: same event ids, nothing new to publish
    # Bling filters in Brasília time (UTC-3): 11:59:58Z - 10 s overlap -> 08:59:48
    assert bling.filters[1]["dataAlteracaoInicial"] == "2026-11-02 08:59:48"
    assert bling.filters[1]["dataAlteracaoFinal"] == "2026-11-02 09:00:03"


def test_bling_poller_new_content_is_a_new_event_and_deleted_contacts_are_skipped(store: Store) -> None:
    bling = FakeBling({1: {"nome": "Ana"}, 2: {"nome": "Bia"}})
    publisher = FakePublisher()
    poller = BlingContactPoller(bling, publisher, store)
    poller.poll_once()
    bling.contacts[1]["nome"] = "Ana Maria"
    bling.deleted_after_list.add(2)
    assert poller.poll_once() == 1
    ids = [e.event_id for e in publisher.published if e.entity_id == "1"]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_window_filters_without_cursor_reads_everything() -> None:
    assert window_filters(None, datetime(2026, 1, 1, tzinfo=UTC), 30) == {"criterio": 1}


def test_only_one_producer_is_leader_and_a_standby_takes_over(store: Store) -> None:
    import socket
    import subprocess
    import sys
    import time

    from producers.polling import LeaderLease

    first = LeaderLease(store, "default", ttl_seconds=0.5, owner="host-a:1")
    second = LeaderLease(store, "default", ttl_seconds=0.5, owner="host-b:2")
    assert first.held() and not second.held()
    assert first.held()  # renewing is fine
    first.release()
    assert second.held() and not first.held()
    time.sleep(0.6)  # the leader stopped renewing (hung or partitioned): its lease runs out
    assert first.held()

    # a leader on this machine whose process is gone is replaced at once, lease or not
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = LeaderLease(store, "other", ttl_seconds=60, owner=f"{socket.gethostname()}:{dead.stdout.strip()}")
    assert gone.held()
    assert LeaderLease(store, "other", ttl_seconds=60, owner="host-c:3").held()


def test_the_lease_is_kept_between_passes_and_a_standby_keeper_takes_it_over(store: Store) -> None:
    """An idle poller may wait minutes between passes: the lease keeper renews it meanwhile, and a
    standby's keeper takes it over once the leader's keeper stops (hung, partitioned, gone)."""
    import threading
    import time

    from producers.polling import LeaderLease

    leader = LeaderLease(store, "default", ttl_seconds=1.2, owner="host-a:1")
    standby = LeaderLease(store, "default", ttl_seconds=1.2, owner="host-b:2")
    assert leader.held()
    leader_stop, standby_stop = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=leader.keep, args=(leader_stop,), daemon=True),
        threading.Thread(target=standby.keep, args=(standby_stop,), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(3.0)  # no pass at all for more than two lease lives
        assert leader._was_leader is True and standby._was_leader is False
        leader_stop.set()  # the leader stops renewing
        deadline = time.monotonic() + 5.0
        while standby._was_leader is not True and time.monotonic() < deadline:
            time.sleep(0.1)
        assert standby._was_leader is True
    finally:
        leader_stop.set()
        standby_stop.set()
        for t in threads:
            t.join(5)
