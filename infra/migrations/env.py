"""Alembic's environment for the store: always run programmatically, on the caller's connection.

`infra.schema` opens the transaction (and, on PostgreSQL, the advisory lock that keeps two
starting processes from upgrading at once) and hands the connection over in
`config.attributes["connection"]`; this file only points Alembic at the store's metadata. SQLite
cannot ALTER most things in place, so migrations there run in batch mode (copy-and-move tables).
"""

from __future__ import annotations

from alembic import context

from infra.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached if someone runs the `alembic` CLI directly
    raise RuntimeError("run migrations with `auvo-bling db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
