"""`auvo-bling dlq groups / reindex / park / restore / operations`, and `dlq replay --group`: the
failures by cause, from the store's index (auvo_bling/failures.py, shared with the console)."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app
from auvo_bling.ops_cli import JsonOption, _err, _out, _print_json, dlq_app

if TYPE_CHECKING:
    from auvo_bling.failures import Failures
    from infra.store import DlqOperation

GroupOption = Annotated[str, typer.Option("--group", "-g", help="A group's fingerprint (fp:...).")]


@contextlib.contextmanager
def failures_for(config: Path | None, tenant: str | None) -> Iterator[Failures]:
    from auvo_bling.failures import failures_of

    app = tenant_app(config, tenant, log_level="warning")
    try:
        yield failures_of(app)
    finally:
        app.close()


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def report_operation(operation: DlqOperation, as_json: bool) -> None:
    if as_json:
        _print_json(operation.as_json())
    else:
        typer.echo(
            f"operation {operation.id} ({operation.kind}): {operation.done} of {operation.total} done, "
            f"{operation.failed} failed{' - ' + operation.detail if operation.detail else ''}"
        )
    if operation.failed:
        raise typer.Exit(1)


@dlq_app.command()
def groups(config: ConfigOption = None, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Dead letters grouped by cause (from the store's index; the queue is not read)."""
    from rich.table import Table

    from infra.bus.dlq_records import format_age
    from infra.store import IndexQuery

    with failures_for(config, tenant) as failures:
        found = failures.store.failure_groups(IndexQuery(tenant=failures.tenant))
    if as_json:
        _print_json(
            [
                {**g.__dict__, "first_seen": g.first_seen.isoformat(), "last_seen": g.last_seen.isoformat()}
                for g in found
            ]
        )
        return
    if not found:
        typer.echo("no dead letters in the index (run `auvo-bling dlq reindex` after a broker dead-letter)")
        return
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    table = Table(show_lines=False)
    for name in ("FINGERPRINT", "COUNT", "LAST", "ERROR CLASS", "CONSUMER", "HINT"):
        table.add_column(name, overflow="fold" if name == "HINT" else "ellipsis", no_wrap=name != "HINT")
    for g in found:
        table.add_row(
            g.fingerprint,
            str(g.count),
            format_age(now - g.last_seen),
            g.error_class,
            g.consumer,
            g.hint or "-",
        )
    _out().print(table)


@dlq_app.command()
def reindex(config: ConfigOption = None, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Rebuild the index from the queue: indexes the broker's own dead letters, forgets what left."""
    with failures_for(config, tenant) as failures:
        seen, gone = failures.reindex()
    if as_json:
        _print_json({"indexed": seen, "gone": gone})
    else:
        typer.echo(f"indexed {seen} dead letters; {gone} no longer in the queue")


@dlq_app.command()
def park(
    group: GroupOption,
    config: ConfigOption = None,
    tenant: TenantOption = None,
    retention: Annotated[str, typer.Option(help="Keep parked letters this long (30d, 2w).")] = "30d",
    as_json: JsonOption = False,
) -> None:
    """Take a group off the queue, kept in the store for the retention (`dlq restore` puts it back)."""
    from auvo_bling.failures import Selection
    from infra.bus.dlq_records import parse_duration
    from infra.store import IndexQuery

    try:
        keep = parse_duration(retention)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--retention") from None
    with failures_for(config, tenant) as failures:
        selection = Selection(IndexQuery(tenant=failures.tenant, fingerprint=group))
        operation = failures.park(selection, cli_actor(), retention=keep)
    report_operation(operation, as_json)


@dlq_app.command()
def restore(
    group: GroupOption, config: ConfigOption = None, tenant: TenantOption = None, as_json: JsonOption = False
) -> None:
    """Put a parked group back into the queue, as it was."""
    from auvo_bling.failures import Selection
    from infra.store import IndexQuery, LetterState

    with failures_for(config, tenant) as failures:
        selection = Selection(IndexQuery(tenant=failures.tenant, fingerprint=group))
        operation = failures.restore(failures.keys_of(selection, LetterState.parked), cli_actor())
    report_operation(operation, as_json)


@dlq_app.command()
def operations(config: ConfigOption = None, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """The last replays, parks and purges: who, when, how far, how many failed again."""
    with failures_for(config, tenant) as failures:
        recent = failures.store.dlq_operations_recent(20)
    if as_json:
        _print_json([op.as_json() for op in recent])
        return
    for op in recent:
        typer.echo(
            f"{op.id:>5} {op.started_at:%Y-%m-%d %H:%M:%S} {op.kind:<8} {op.state:<8} "
            f"{op.done}/{op.total} failed {op.failed} failed-again {op.failed_again}  {op.actor}"
        )
    if not recent:
        _err("no operations yet")


def replay_group(config: Path | None, tenant: str | None, group: str, as_json: bool) -> None:
    """`dlq replay --group FP`: the group the index names, as one operation."""
    from auvo_bling.failures import Selection
    from infra.store import IndexQuery

    with failures_for(config, tenant) as failures:
        operation = failures.replay(
            Selection(IndexQuery(tenant=failures.tenant, fingerprint=group)), cli_actor()
        )
    report_operation(operation, as_json)
