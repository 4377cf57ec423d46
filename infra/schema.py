"""The store's schema version: Alembic migrations over `infra.store.metadata`.

Before migrations, `Store()` called `metadata.create_all`, which creates missing tables and skips
existing ones, so the first changed column would never have reached a deployed database. Now:

- an empty database (none of our tables) is migrated to the head revision at once: there is
  nothing to lose, and the demo, the tests and a newcomer's first `run` rely on it;
- a database made by `create_all` before migrations existed (our tables, no `alembic_version`)
  is stamped as revision 0001, which is exactly that schema, and then treated like any other;
- a database at an older revision is upgraded only when asked (`auvo-bling db upgrade`, or
  `database_auto_upgrade = true` for `run`/`produce`/`consume`); otherwise starting refuses with
  one line naming the command, because an upgrade is a deliberate step (a backup first, every
  process of the old version stopped) and a process must not run on a schema it does not know;
- a database at a revision this version does not know (a newer auvo-bling upgraded it) refuses.

Concurrent starts are safe: everything happens in one transaction that first takes the advisory
lock `create_schema` always took on PostgreSQL (the DDL is transactional there), or SQLite's write
lock (`BEGIN IMMEDIATE`, see infra/store/base.py). The second process then finds the head revision.
The migration scripts ship inside the package (`infra/migrations`, package data) and are found
with importlib.resources, so a non-editable install upgrades too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from infra.errors import ConfigurationError

if TYPE_CHECKING:
    from infra.store import Store

# The revision that is the schema `create_all` made up to commit 439e3a3, and its tables.
BASELINE = "0001"
BASELINE_TABLES = frozenset(
    {
        "id_map",
        "processed_events",
        "applied_versions",
        "cursors",
        "oauth_tokens",
        "locks",
        "rate_buckets",
        "fingerprints",
        "customer_index",
        "write_intents",
        "counters",
        "heard",
        "deleted_in_bling",
        "tenant_pauses",
    }
)
# The same key create_schema always locked, so an old and a new process never race either.
SCHEMA_LOCK_KEY = 424242
UPGRADE_HINT = "run `auvo-bling db upgrade`"


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands. `current` None: no schema yet (or un-versioned, see `unversioned`)."""

    current: str | None
    head: str
    unversioned: bool = False  # our tables without alembic_version: made before migrations
    empty: bool = False  # none of our tables: brought to head automatically

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.empty:
            return "empty (no schema yet)"
        if self.unversioned:
            return f"un-versioned (made before migrations; the schema of revision {BASELINE})"
        return str(self.current)


def script_location() -> str:
    """The migrations directory inside the installed package (not a path into a source tree)."""
    location = resources.files("infra") / "migrations"
    if not location.is_dir():
        raise ConfigurationError(
            f"the database migrations are missing from the installed package ({location})"
        )
    return str(location)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: no alembic.ini to ship or to find."""
    config = Config()
    config.set_main_option("script_location", script_location().replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the migrations directory has no revisions"
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in _scripts().walk_revisions()}


def state_of(conn: Connection) -> SchemaState:
    """Read the schema state on an open connection (no writes)."""
    head = head_revision()
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        return SchemaState(current, head)
    ours = BASELINE_TABLES & set(inspect(conn).get_table_names())
    if not ours:
        return SchemaState(None, head, empty=True)
    if ours != BASELINE_TABLES:
        missing = ", ".join(sorted(BASELINE_TABLES - ours))
        raise ConfigurationError(
            f"the database has some of auvo-bling's tables but not {missing} and no schema version: "
            "it is not a database this version can upgrade (restore it, or point DATABASE_URL elsewhere)"
        )
    return SchemaState(None, head, unversioned=True)


def schema_state(store: Store) -> SchemaState:
    with store.engine.connect() as conn:
        return state_of(conn)


def _locked(conn: Connection, store: Store) -> None:
    if not store.is_sqlite:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK_KEY})


def _check_known(state: SchemaState) -> None:
    if state.current is not None and state.current not in known_revisions():
        raise ConfigurationError(
            f"the database schema is at {state.current}, which this version does not know (a newer "
            f"auvo-bling upgraded it; this one needs {state.head}): run the newer version"
        )


def upgrade_schema(store: Store) -> tuple[SchemaState, SchemaState]:
    """Migrate to the head revision (stamping a pre-migrations database first); (before, after)."""
    with store.engine.begin() as conn:
        _locked(conn, store)
        before = state_of(conn)
        _check_known(before)
        config = alembic_config(conn)
        if before.unversioned:
            command.stamp(config, BASELINE)
        if not before.up_to_date:
            command.upgrade(config, "head")
        after = state_of(conn)
    return before, after


def ensure_schema(store: Store, *, upgrade: bool = False) -> SchemaState:
    """What `Store(create=True)` does: see the module docstring for the four cases."""
    with store.engine.connect() as conn:
        state = state_of(conn)
    if state.up_to_date:
        return state  # the common case: one SELECT, no lock, no migration machinery
    _check_known(state)
    if state.empty or upgrade:
        return upgrade_schema(store)[1]
    raise ConfigurationError(
        f"the database schema is at {state.describe()}, this version needs {state.head}: {UPGRADE_HINT} "
        "(or set database_auto_upgrade = true to upgrade at start)"
    )
