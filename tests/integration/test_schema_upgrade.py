"""Schema migrations on SQLite and PostgreSQL: from the schema before migrations to head, rows intact.

The starting point is a database the way the old `Store()` made it: `create_all` of the tables
of commit 439e3a3 (tests/schema_439e3a3.py), no `alembic_version`. It is filled, upgraded, and
every row must read back unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text

from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from consumers.sales.documents import ORDER_RECORD
from infra import schema
from infra.bus.topology import (
    TO_AUVO_CUSTOMERS,
    TO_BLING_CONTACTS,
    TO_BLING_ORDERS,
    TO_BLING_PAYABLES,
    TO_BLING_PROPOSALS,
)
from infra.errors import ConfigurationError
from infra.store import Store, normalise_database_url
from infra.store import metadata as current_metadata
from tests import schema_439e3a3

pytestmark = pytest.mark.integration

ROWS_PER_TABLE = 40


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def bare(url: str) -> Iterator[Any]:
    """A plain engine on the database (no Store, so nothing is created behind the test's back)."""
    engine = create_engine(normalise_database_url(url))
    try:
        yield engine
    finally:
        engine.dispose()


def _value(column: Any, table: str, i: int) -> Any:
    kind = type(column.type).__name__
    if kind == "DateTime":
        return datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(hours=i, microseconds=i)
    if kind == "Float":
        return 1_700_000_000.25 + i
    if kind == "Integer":
        return i * 7
    if kind == "Text":
        return f"{table} text {i}: ção, 'quoted', \"double\" \n second line"
    return f"{column.name[:10]}-{i}"[: column.type.length]


def fill(engine: Any, tables: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    """ROWS_PER_TABLE rows in every table (every column set, nullable ones too); returns them read back."""
    with engine.begin() as conn:
        for table in tables.sorted_tables:
            rows = [{c.name: _value(c, table.name, i) for c in table.columns} for i in range(ROWS_PER_TABLE)]
            conn.execute(table.insert(), rows)
    return read_all(engine, tables)


def read_all(engine: Any, tables: MetaData) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.columns)).all()]
            for t in tables.sorted_tables
        }


def drift(engine: Any, target: MetaData) -> list[Any]:
    """What autogenerate would change to make the database match `target` (empty: identical)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, target))


def test_first_migration_creates_exactly_the_schema_of_commit_439e3a3(url: str, bare: Any) -> None:
    with bare.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.BASELINE)
    assert drift(bare, schema_439e3a3.metadata) == []
    assert set(inspect(bare).get_table_names()) == schema.BASELINE_TABLES | {"alembic_version"}
    # and it really is older than head: the index pruning needs is not there yet
    assert drift(bare, current_metadata) != []


def test_a_fresh_database_is_brought_to_head_and_matches_the_current_metadata(url: str, bare: Any) -> None:
    store = Store(url)
    try:
        state = schema.schema_state(store)
        assert state.current == schema.head_revision() and state.up_to_date
    finally:
        store.dispose()
    assert drift(bare, current_metadata) == []


def test_database_from_before_migrations_upgrades_with_every_row_intact(url: str, bare: Any) -> None:
    schema_439e3a3.metadata.create_all(bare)  # what the old Store() did
    before = fill(bare, schema_439e3a3.metadata)
    assert all(len(rows) == ROWS_PER_TABLE for rows in before.values())

    with pytest.raises(ConfigurationError) as refused:
        Store(url)
    message = str(refused.value)
    assert "\n" not in message
    assert f"this version needs {schema.head_revision()}: run `auvo-bling db upgrade`" in message
    assert read_all(bare, schema_439e3a3.metadata) == before  # refusing touched nothing
    with bare.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is None

    store = Store(url, create=False)
    try:
        was, now = schema.upgrade_schema(store)
    finally:
        store.dispose()
    assert was.unversioned and now.current == schema.head_revision()
    assert read_all(bare, schema_439e3a3.metadata) == before
    assert drift(bare, current_metadata) == []

    # the upgraded database is usable by this version, and its old rows are what it reads
    store = Store(url)
    try:
        assert store.cursor("tenant-0", "name-0") == "value-0"
        assert store.is_processed("tenant-0", "consumer-0", "event_id-0")
        with store.transaction() as conn:
            assert store.mark_processed(conn, "tenant-0", "consumer-0", "event_id-new", "created")
    finally:
        store.dispose()


def test_an_older_revision_is_refused_at_start_unless_told_to_upgrade(url: str, bare: Any) -> None:
    with bare.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.BASELINE)
    before = fill(bare, schema_439e3a3.metadata)
    with pytest.raises(ConfigurationError, match=r"schema is at 0001, this version needs .*db upgrade"):
        Store(url)
    store = Store(url, upgrade=True)
    try:
        assert schema.schema_state(store).up_to_date
    finally:
        store.dispose()
    assert read_all(bare, schema_439e3a3.metadata) == before


def test_concurrent_first_starts_create_the_schema_once(url: str) -> None:
    errors: list[BaseException] = []
    stores: list[Store] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            stores.append(Store(url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert all(schema.schema_state(s).up_to_date for s in stores)
        with stores[0].engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    finally:
        for s in stores:
            s.dispose()


def test_a_revision_this_version_does_not_know_is_refused(url: str) -> None:
    Store(url).dispose()
    store = Store(url, create=False)
    try:
        with store.transaction() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        store.dispose()
    with pytest.raises(ConfigurationError, match="schema is at 9999, which this version does not know"):
        Store(url, upgrade=True)


def test_a_database_with_only_some_of_the_tables_is_refused(url: str, bare: Any) -> None:
    schema_439e3a3.metadata.tables["id_map"].create(bare)
    with pytest.raises(ConfigurationError, match="some of auvo-bling's tables but not applied_versions"):
        Store(url)
    assert set(inspect(bare).get_table_names()) == {"id_map"}


def test_state_kept_under_queue_names_moves_to_the_flow_ids(url: str, bare: Any) -> None:
    """Revision 0003: processed events, versions, intents and counters follow the flow id; the
    backfill's contato intents become the contato writer's."""
    with bare.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0002")
        now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        t = current_metadata.tables
        conn.execute(t["processed_events"].insert(), [
            {"tenant": "acme", "consumer": "to-bling.contacts", "event_id": "ev-1", "outcome": "created",
             "processed_at": now},
            {"tenant": "acme", "consumer": "to-bling.orders", "event_id": "ev-2", "outcome": "created",
             "processed_at": now},
        ])
        conn.execute(t["applied_versions"].insert(), [
            {"tenant": "acme", "consumer": "to-auvo.customers", "entity_id": "16000000001", "version": "v1"},
        ])
        conn.execute(t["write_intents"].insert(), [
            {"tenant": "acme", "consumer": "to-bling.contacts", "entity_id": "7", "created_at": now},
            {"tenant": "acme", "consumer": "backfill", "entity_id": "bling-contact:7", "created_at": now},
            {"tenant": "acme", "consumer": "backfill", "entity_id": "bling-contact:8", "created_at": now},
            {"tenant": "acme", "consumer": "to-bling.payables", "entity_id": "99", "created_at": now},
            {"tenant": "acme", "consumer": "to-bling.orders", "entity_id": "task:5", "created_at": now},
            {"tenant": "acme", "consumer": "to-bling.proposals", "entity_id": "task:5", "created_at": now},
            {"tenant": "acme", "consumer": "to-bling.proposals", "entity_id": "quote_order:6",
             "created_at": now},
            {"tenant": "acme", "consumer": "to-bling.proposals", "entity_id": "guid-7", "created_at": now},
        ])
        conn.execute(t["counters"].insert(), [
            {"tenant": "acme", "name": "to-bling.contacts.created", "value": 3},
            {"tenant": "acme", "name": "to-bling.orders.skipped_duplicate", "value": 2},
            {"tenant": "acme", "name": "backfill.created_bling", "value": 5},
        ])
    store = Store(url, upgrade=True)
    try:
        assert store.is_processed("acme", TO_BLING_CONTACTS.flow, "ev-1")
        assert store.is_processed("acme", TO_BLING_ORDERS.flow, "ev-2")
        assert not store.is_processed("acme", "to-bling.contacts", "ev-1")
        assert store.applied_version("acme", TO_AUVO_CUSTOMERS.flow, "16000000001") == "v1"
        for entity_id in ("7", "8"):
            assert store.intent_noted_at("acme", AuvoCustomerToBlingContact.record, entity_id) is not None
        assert store.intent_noted_at("acme", TO_BLING_PAYABLES.flow, "99") is not None
        with store.engine.connect() as conn:
            intents = conn.execute(text("SELECT consumer, entity_id FROM write_intents")).all()
        assert sorted(intents) == sorted(
            [
                ("bling.contato", "7"),
                ("bling.contato", "8"),
                (TO_BLING_PAYABLES.flow, "99"),
                (ORDER_RECORD, "task:5"),  # one pedido, whichever flow noted it
                (ORDER_RECORD, "quote_order:6"),
                (TO_BLING_PROPOSALS.flow, "guid-7"),  # a proposta's intent stays the quote flow's
            ]
        )
        assert store.counters("acme") == {
            f"{TO_BLING_CONTACTS.flow}.created": 3,
            f"{TO_BLING_ORDERS.flow}.skipped_duplicate": 2,
            "backfill.created_bling": 5,
        }
    finally:
        store.dispose()
