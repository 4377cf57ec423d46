"""`auvo-bling bus ...`: the broker topology itself (moving to the shared topology).

The upgrade from per-tenant queues, step by step (README, "Many companies: the shared topology"):
stop every `run`/`consume`/`produce` process; set `bus.topology = "shared"`; run
`auvo-bling bus move-to-shared` (declares the shared queues, moves every named tenant's messages
into them, deletes what it emptied); start the processes again.
"""

from __future__ import annotations

from typing import Annotated

import typer

from auvo_bling.cli_options import ConfigOption
from infra.errors import ConfigurationError

bus_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="The broker topology: move a per-tenant deployment's queues to the shared topology.",
)


@bus_app.command("move-to-shared")
def move_to_shared(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would move.")] = False,
) -> None:
    """Move every named tenant's per-tenant queues (work, retry delays, DLQ) into the shared ones."""
    import structlog

    from auvo_bling.tenant_registry import with_database_tenants
    from infra.bus.publisher import is_memory_url, make_connection
    from infra.bus.topology import Topology
    from infra.bus.topology_move import MoveRefused, delete_exchanges, move_queues, planned_moves
    from infra.logging import configure_logging
    from infra.settings import load_settings

    settings = load_settings(config)
    if not structlog.is_configured():
        configure_logging(settings.log_format, "warning")
    # the database's tenants had per-tenant queues too, a removed one's may still hold messages
    settings = with_database_tenants(settings, removed=True)
    if settings.bus.topology != "shared":
        raise ConfigurationError(
            'set bus.topology = "shared" in the settings first: the processes started afterwards must '
            "consume the queues the messages move to"
        )
    if is_memory_url(settings.amqp_url):
        raise ConfigurationError("the embedded memory:// bus has no queues outside its process to move")
    shared = Topology.from_settings(settings.bus, settings.amqp_url)
    connection = make_connection(settings.amqp_url)
    total = 0
    try:
        if not dry_run:
            shared.declare(connection)
        for name in settings.tenant_names():
            if name == settings.tenant:
                continue  # the default tenant's queues already are the shared ones
            prefix = f"{shared.prefix}{name}."
            old_bus = settings.bus.model_copy(update={"topology": "per_tenant", "prefix": prefix})
            old = Topology.from_settings(old_bus)
            moves = planned_moves(old, shared)

            def progress(queue: str, count: int) -> None:
                typer.echo(f"  {queue}: {count} moved so far", err=True)

            try:
                done = list(move_queues(connection, moves, progress=progress, dry_run=dry_run))
            except MoveRefused as exc:
                typer.echo(f"refused: {exc}", err=True)
                raise typer.Exit(1) from None
            for moved in done:
                total += moved.messages
                verb = "would move" if dry_run else "moved"
                gone = ", queue deleted" if moved.deleted else ("" if dry_run else ", queue kept (not empty)")
                typer.echo(f"{name}: {verb} {moved.messages} from {moved.source} to {moved.target}{gone}")
            if not dry_run and done and all(m.deleted for m in done):
                delete_exchanges(connection, old)
    finally:
        connection.release()
    typer.echo(f"{'would move' if dry_run else 'moved'} {total} message(s) into the shared topology")
