"""`auvo-bling db upgrade / current / prune`, and `run` refusing an out-of-date schema (SQLite file)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from infra import schema
from infra.store import Store
from tests.unit.test_cli import run_cli

HEAD = schema.head_revision()


def old_database(path: Path) -> str:
    """A SQLite database at revision 0001 (the schema before this version's migrations)."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.BASELINE)
    engine.dispose()
    return url


def revision(path: Path) -> str | None:
    with sqlite3.connect(path) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def test_current_upgrade_current_on_an_empty_database(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{db}"}
    before = run_cli("db", "current", env=env)
    assert before.returncode == 1, before.stderr
    assert "current: empty (no schema yet)" in before.stdout
    assert f"head:    {HEAD}" in before.stdout

    upgraded = run_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded: empty (no schema yet) -> {HEAD} (head)" in upgraded.stdout
    assert revision(db) == HEAD

    again = run_cli("db", "upgrade", env=env)
    assert again.returncode == 0 and f"already at {HEAD}" in again.stdout
    after = run_cli("db", "current", env=env)
    assert after.returncode == 0
    assert after.stdout.splitlines() == [f"current: {HEAD}", f"head:    {HEAD}", "up to date"]


def test_run_refuses_an_out_of_date_schema_with_one_line(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    env = {"DATABASE_URL": old_database(db)}
    for command_name in ("run", "produce", "consume"):
        result = run_cli(command_name, env=env)
        assert result.returncode == 2, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line == (
            f"auvo-bling: the database schema is at 0001, this version needs {HEAD}: "
            "run `auvo-bling db upgrade` (or set database_auto_upgrade = true to upgrade at start)"
        )
    assert revision(db) == "0001"  # refusing changed nothing
    current = run_cli("db", "current", env=env)
    assert current.returncode == 1 and "out of date: run `auvo-bling db upgrade`" in current.stdout


def test_run_upgrades_at_start_when_told_to(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    env = {"DATABASE_URL": old_database(db), "AUVO_BLING_DATABASE_AUTO_UPGRADE": "true"}
    result = run_cli("run", env=env)
    # past the schema: it now stops at the next check (no credentials in this test)
    assert result.returncode == 2
    assert "AUVO_BLING_AUVO__API_KEY" in result.stderr and "schema" not in result.stderr
    assert revision(db) == HEAD


def test_prune_prints_per_table_and_dry_run_removes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite3"
    url = f"sqlite:///{db}"
    store = Store(url)
    old = datetime.now(UTC) - timedelta(days=45)
    with store.transaction() as conn:
        for i in range(3):
            store.mark_processed(conn, "acme", "to-bling.contacts", f"old-{i}", "created")
        store.mark_processed(conn, "acme", "to-bling.contacts", "new", "created")
        store.set_applied_version(conn, "acme", "to-bling.contacts", "42", "2026-01-01T00:00:00")
        conn.exec_driver_sql(
            "UPDATE processed_events SET processed_at = ? WHERE event_id LIKE 'old-%'",
            (old.strftime("%Y-%m-%d %H:%M:%S.%f"),),
        )
    store.dispose()
    env = {"DATABASE_URL": url}

    dry = run_cli("db", "prune", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "processed_events  would remove 3 event ids" in dry.stdout
    assert "applied_versions  kept 1" in dry.stdout
    assert sqlite3.connect(db).execute("SELECT count(*) FROM processed_events").fetchone() == (4,)

    real = run_cli("db", "prune", env=env)
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith("retention 30 days: older than ")
    assert "processed_events  removed 3 event ids" in real.stdout
    assert sqlite3.connect(db).execute("SELECT event_id FROM processed_events").fetchall() == [("new",)]

    longer = run_cli("db", "prune", env={**env, "AUVO_BLING_RETENTION_DAYS": "60"})
    assert "processed_events  removed 0 event ids" in longer.stdout


def test_prune_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    result = run_cli("db", "prune", env={"DATABASE_URL": old_database(tmp_path / "old.sqlite3")})
    assert result.returncode == 2
    assert "run `auvo-bling db upgrade`" in result.stderr


def test_a_database_from_before_migrations_is_named_so_and_upgraded(tmp_path: Path) -> None:
    from tests import schema_439e3a3

    db = tmp_path / "pre.sqlite3"
    engine = create_engine(f"sqlite:///{db}")
    schema_439e3a3.metadata.create_all(engine)  # what the old Store() did
    engine.dispose()
    env = {"DATABASE_URL": f"sqlite:///{db}"}
    current = run_cli("db", "current", env=env)
    assert current.returncode == 1
    assert "current: un-versioned (made before migrations; the schema of revision 0001)" in current.stdout
    assert revision(db) is None  # looking changed nothing
    upgraded = run_cli("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded: un-versioned (made before migrations; the schema of revision 0001) -> {HEAD}" in (
        upgraded.stdout
    )
    assert revision(db) == HEAD
