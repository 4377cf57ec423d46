"""`auvo-bling db ...`: the store's schema version and its retention.

`upgrade` is the deliberate step `run`/`produce`/`consume` ask for when the schema is older than
this version (see infra/schema.py for why starting does not do it silently); `current` says where
the database stands (exit 1 when an upgrade is due, for deploy scripts); `prune` removes what is
older than `retention_days`, the same pass the producer leader makes every hour in the background
(see infra/store/retention.py for what may go and what never does).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auvo_bling.cli_options import ConfigOption

if TYPE_CHECKING:
    from infra.settings import Settings
    from infra.store import Store

db_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="The database: schema version (upgrade, current) and retention (prune).",
)


def _settings(config: Path | None) -> Settings:
    import structlog

    from infra.logging import configure_logging
    from infra.settings import load_settings

    settings = load_settings(config)
    if not structlog.is_configured():
        configure_logging(settings.log_format, "warning")
    return settings


def _store(settings: Settings, *, create: bool) -> Store:
    from infra.store import Store

    return Store(settings.database_url, create=create)


@db_app.command()
def upgrade(config: ConfigOption = None) -> None:
    """Migrate the database to this version's schema (stop the processes of the old version first)."""
    from infra.schema import upgrade_schema

    store = _store(_settings(config), create=False)
    try:
        before, after = upgrade_schema(store)
    finally:
        store.dispose()
    if before.up_to_date:
        typer.echo(f"database schema already at {after.current} (head); nothing to do")
    else:
        typer.echo(f"database schema upgraded: {before.describe()} -> {after.current} (head)")


@db_app.command()
def current(config: ConfigOption = None) -> None:
    """Print the database's schema revision and this version's; exit 1 if an upgrade is due."""
    from infra.schema import schema_state

    store = _store(_settings(config), create=False)
    try:
        state = schema_state(store)
    finally:
        store.dispose()
    typer.echo(f"current: {state.describe()}")
    typer.echo(f"head:    {state.head}")
    if state.up_to_date:
        typer.echo("up to date")
        return
    if state.empty:
        typer.echo("not created yet: the first start (or `auvo-bling db upgrade`) creates it")
    else:
        typer.echo("out of date: run `auvo-bling db upgrade`")
    raise typer.Exit(1)


@db_app.command()
def prune(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be removed.")] = False,
) -> None:
    """Remove processed-event ids and dead leases older than `retention_days`; prints what per table."""
    from infra.store.retention import prune as prune_store

    settings = _settings(config)
    store = _store(settings, create=True)  # an out-of-date schema refuses, as `run` does
    try:
        report = prune_store(store, retention_days=settings.retention_days, dry_run=dry_run)
    finally:
        store.dispose()
    for line in report.lines():
        typer.echo(line)
