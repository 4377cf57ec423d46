"""The dead-letter index in the store (infra/store/dead_letters.py) on SQLite and PostgreSQL: a letter
seen again is one row, groups count by cause and company, filters, reconcile with the queue, and a
replayed copy that failed again counted in its operation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.bus.dlq_index import entry_of
from infra.bus.dlq_records import DeadLetter
from infra.store import DeadLetterEntry, IndexQuery, LetterState, Store

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DEACTIVATED = "Object reference not set to an instance of an object. (task {n})"


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


def letter(
    n: int,
    *,
    tenant: str = "acme",
    error: str = DEACTIVATED,
    cls: str = "AuvoApiDeactivated",
    at: datetime = NOW,
    consumer: str = "to-bling.orders",
    extra: dict | None = None,
) -> DeadLetter:
    body = json.dumps(
        {"event_id": f"ev-{n}", "type": "auvo.task.status_reached", "entity_id": str(n), "tenant": tenant}
    )
    headers = {
        "x-consumer": consumer,
        "x-error-class": cls,
        "x-error-message": error.format(n=n),
        "x-hint": "reactivate the Auvo API",
        "x-attempts": 1,
        "x-dead-lettered-at": at.isoformat(),
        **(extra or {}),
    }
    return DeadLetter.from_message(body.encode(), headers)


def entries(*letters: DeadLetter) -> list[DeadLetterEntry]:
    return [entry_of(x) for x in letters]


def test_one_cause_is_one_group_with_its_companies(store: Store) -> None:
    store.index_dead_letters(entries(*(letter(n, at=NOW + timedelta(seconds=n)) for n in range(5))))
    store.index_dead_letters(entries(letter(9, tenant="beta")))
    store.index_dead_letters(entries(letter(7, cls="BlingValidation", error="CPF {n} inválido")))
    groups = store.failure_groups()
    assert [(g.count, g.error_class, g.tenants) for g in groups] == [
        (6, "AuvoApiDeactivated", ("acme", "beta")),
        (1, "BlingValidation", ("acme",)),
    ]
    big = groups[0]
    assert big.first_seen == NOW and big.last_seen == NOW + timedelta(seconds=4)
    assert big.hint == "reactivate the Auvo API"
    assert store.count_dead_letters(IndexQuery(fingerprint=big.fingerprint, tenant="beta")) == 1
    assert store.count_dead_letters(IndexQuery(text="cpf 7")) == 1
    assert store.count_dead_letters(IndexQuery(seen_before=NOW + timedelta(seconds=2))) == 4  # 0, 1, 7, 9
    assert store.count_dead_letters(IndexQuery(event_type="bling.contact.changed")) == 0


def test_a_letter_seen_again_is_one_row_keeping_its_first_seen(store: Store) -> None:
    store.index_dead_letters(entries(letter(1, at=NOW)))
    store.index_dead_letters(entries(letter(1, at=NOW + timedelta(minutes=5), extra={"x-replay-count": 1})))
    [row] = store.dead_letters_of()
    assert row["first_seen"] == NOW and row["last_seen"] == NOW + timedelta(minutes=5)
    assert row["replay_count"] == 1 and row["state"] == "dead"


def test_reconcile_indexes_what_the_queue_holds_and_marks_the_rest_gone(store: Store) -> None:
    store.index_dead_letters(entries(letter(1), letter(2)))
    broker_dead = DeadLetter.from_message(
        b'{"event_id": "ev-3", "type": "auvo.task.status_reached", "tenant": "acme"}',
        {
            "x-death": [{"queue": "to-bling.orders", "reason": "delivery_limit", "time": NOW}],
            "x-first-death-reason": "delivery_limit",
            "x-first-death-queue": "to-bling.orders",
        },
    )
    gone = store.reconcile_dead_letters(
        entries(letter(2), broker_dead), scan_started=NOW + timedelta(minutes=1), tenant="acme"
    )
    assert gone == 1
    rows = {r["letter_id"]: r for r in store.dead_letters_of()}
    assert set(rows) == {"ev-2", "ev-3"}
    assert (
        rows["ev-3"]["error_class"] == "DeliveryLimitExceeded"
        and rows["ev-3"]["consumer"] == "to-bling.orders"
    )
    assert store.count_dead_letters(IndexQuery(state=LetterState.purged.value)) == 1


def test_replayed_rows_count_and_a_copy_that_fails_again_counts_in_its_operation(store: Store) -> None:
    store.index_dead_letters(entries(letter(1), letter(2)))
    op = store.start_operation("replay", "ana", {"group": "x"}, 2)
    store.mark_dead_letters(
        [("acme", "to-bling.orders", "ev-1"), ("acme", "to-bling.orders", "ev-2")], LetterState.replayed
    )
    store.finish_operation(op, done=2, failed=0)
    assert store.count_dead_letters() == 0
    again = letter(1, extra={"x-replay-count": 1, "x-replay-operation": op})
    store.index_dead_letters(entries(again))
    [row] = store.dead_letters_of()
    assert row["letter_id"] == "ev-1" and row["replay_count"] == 1
    operation = store.dlq_operation(op)
    assert operation is not None and (operation.done, operation.failed_again, operation.state) == (
        2,
        1,
        "done",
    )


def test_a_parked_letter_keeps_its_message_until_its_retention_ends(store: Store) -> None:
    store.index_dead_letters(entries(letter(1), letter(2)))
    keys = [("acme", "to-bling.orders", "ev-1"), ("acme", "to-bling.orders", "ev-2")]
    store.mark_dead_letters(keys[:1], LetterState.parked, parked_until=NOW - timedelta(seconds=1))
    store.mark_dead_letters(keys[1:], LetterState.parked, parked_until=NOW + timedelta(days=1))
    assert store.expired_parked(NOW) == keys[:1]
    [message] = store.dead_letter_messages(keys[:1])
    assert DeadLetter.from_export(json.loads(message)).id == "ev-1"  # what restore puts back
    store.mark_dead_letters(store.expired_parked(NOW), LetterState.purged)
    assert store.dead_letter_messages(keys) != [] and len(store.dead_letter_messages(keys)) == 1
    assert store.count_dead_letters(IndexQuery(state=LetterState.parked.value)) == 1


def test_retention_prunes_letters_gone_from_the_queue_and_keeps_dead_ones(store: Store) -> None:
    from infra.store.retention import prune

    old = NOW - timedelta(days=60)
    store.index_dead_letters(entries(letter(1, at=old), letter(2, at=old), letter(3)))
    store.mark_dead_letters([("acme", "to-bling.orders", "ev-1")], LetterState.replayed)
    report = prune(store, retention_days=30, now=NOW, count_kept=False)
    assert report.removed["dead_letters"] == 1
    assert {r["letter_id"] for r in store.dead_letters_of()} == {"ev-2", "ev-3"}  # still dead: kept
