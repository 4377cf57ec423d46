"""`auvo-bling tenants ...`: the Auvo <> Bling pairs one deployment serves.

Tenants live in the config file (`[tenants.<name>]`, one section each), so `add`, `enable` and
`disable` edit that file (with tomlkit, keeping its comments and layout) and validate the result
before replacing it; running processes apply the change when restarted. `pause` and `resume` act
at once on every process through the store: a paused tenant's consumers and pollers stand still
while the others go on, and `resume` replays what the pause parked in the tenant's DLQ.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from auvo_bling.cli_options import ConfigOption
from infra.errors import ConfigurationError

tenants_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="List, add, enable/disable, pause and resume tenants (one Auvo account + one Bling account each).",
)

RequiredConfig = Annotated[
    Path, typer.Option("--config", "-c", help="The TOML settings file to edit (created if missing).")
]
NameArgument = Annotated[str, typer.Argument(metavar="TENANT", help="The tenant's name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only data (JSON) on stdout.")]


def _settings(config: Path | None) -> Any:
    import structlog

    from infra.logging import configure_logging
    from infra.settings import load_settings

    settings = load_settings(config)
    if not structlog.is_configured():
        configure_logging(settings.log_format, "warning")
    return settings


# --- list ----------------------------------------------------------------------------------------


def tenant_rows(settings: Any, shared_store: Any = None) -> list[dict[str, Any]]:
    """One row per tenant: whether it is served, paused (and why), and what it still lacks (with
    the company options saved in the database: credentials set in the console are not missing)."""
    from auvo_bling.company_options import tenant_settings
    from infra.store import Store

    store = shared_store or Store(settings.database_url)
    try:
        rows = []
        for name in settings.tenant_names():
            try:
                own = tenant_settings(store, settings, name)
            except ConfigurationError:  # saved options that no longer load: the bootstrap's view
                own = settings.for_tenant(name)
            pause = store.tenant_pause(name)
            state = "disabled" if not settings.is_enabled(name) else "paused" if pause else "active"
            rows.append(
                {
                    "tenant": name,
                    "enabled": settings.is_enabled(name),
                    "state": state,
                    "paused_since": pause.paused_at.isoformat(timespec="seconds") if pause else None,
                    "pause_cause": f"{pause.error_class}: {pause.reason}" if pause else None,
                    "pause_hint": pause.hint if pause else None,
                    "direction": own.customers.direction.value,
                    "bling_authorized": store.load_token(name, "bling") is not None,
                    "missing": own.required_for_run(),
                    "bus_prefix": own.bus.prefix,
                }
            )
        return rows
    finally:
        if shared_store is None:
            store.dispose()


@tenants_app.command("list")
def list_(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Every tenant: enabled or not, active or paused (with the cause), authorized, what is missing."""
    rows = tenant_rows(_settings(config))
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = row["state"]
        if row["paused_since"]:
            state += f" since {row['paused_since']} ({row['pause_cause']})"
        typer.echo(
            f"{row['tenant']:<16} {state:<10} direction={row['direction']} "
            f"bling={'authorized' if row['bling_authorized'] else 'NOT authorized'}"
        )
        if row["pause_hint"]:
            typer.echo(f"{'':<16} fix: {row['pause_hint']}; then `auvo-bling tenants resume {row['tenant']}`")
        if row["missing"] and row["enabled"]:
            typer.echo(f"{'':<16} missing: {', '.join(row['missing'])}")


# --- editing the config file -----------------------------------------------------------------------


def _load_document(path: Path) -> Any:
    import tomlkit

    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except Exception as exc:  # tomlkit's parse errors have no common public base
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from None


def _save_validated(path: Path, document: Any) -> None:
    """Write `document` next to `path`, load it as settings, and only then replace `path`."""
    import tomlkit

    from infra.settings import load_settings

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(document))
        load_settings(Path(tmp))  # raises ConfigurationError naming the bad setting
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tenants_table(document: Any) -> Any:
    import tomlkit

    if "tenants" not in document:
        document["tenants"] = tomlkit.table(is_super_table=True)
    return document["tenants"]


@tenants_app.command()
def add(
    name: NameArgument,
    config: RequiredConfig,
    auvo_api_key: Annotated[str | None, typer.Option(help="Auvo API key (or in the file/env).")] = None,
    auvo_api_token: Annotated[str | None, typer.Option(help="Auvo API token.")] = None,
    bling_client_id: Annotated[str | None, typer.Option(help="Bling app client id.")] = None,
    bling_client_secret: Annotated[str | None, typer.Option(help="Bling app client secret.")] = None,
    direction: Annotated[
        str | None, typer.Option(help="customers.direction: auvo_to_bling, bling_to_auvo or both.")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it disabled.")] = False,
) -> None:
    """Add a [tenants.<name>] section; then `authorize --tenant <name>` and restart the processes."""
    add_to_file(
        name,
        config,
        {
            "auvo": {"api_key": auvo_api_key, "api_token": auvo_api_token},
            "bling": {"client_id": bling_client_id, "client_secret": bling_client_secret},
            "customers": {"direction": direction},
        },
        enabled=not disabled,
    )
    typer.echo(f"tenant {name!r} added to {config}")
    missing = _settings(config).for_tenant(name).required_for_run()
    if missing:
        typer.echo("still missing (set them in the file or the environment): " + ", ".join(missing))
    typer.echo(f"next: `auvo-bling authorize --tenant {name} -c {config}`, then restart run/consume/produce")


def add_to_file(name: str, config: Path, values: dict[str, dict[str, Any]], *, enabled: bool = True) -> None:
    """Add a [tenants.<name>] section (the CLI's and the console's one way); None values are left out."""
    import tomlkit

    from infra.settings import TENANT_NAME, TENANT_NAME_RULE

    if not TENANT_NAME.match(name):
        raise ConfigurationError(f"tenant name {name!r} {TENANT_NAME_RULE}")
    document = _load_document(config)
    default_name = document.get("tenant", "default")
    tenants = _tenants_table(document)
    if name == default_name or name in tenants:
        raise ConfigurationError(f"tenant {name!r} already exists in {config}")
    section = tomlkit.table()
    section["enabled"] = enabled
    for part, fields in values.items():
        given = {k: v for k, v in fields.items() if v is not None}
        if given:
            sub = tomlkit.table()
            for key, value in given.items():
                sub[key] = value
            section[part] = sub
    tenants[name] = section
    created = not config.exists()
    _save_validated(config, document)
    if created:
        os.chmod(config, 0o600)  # it may hold credentials


def set_enabled(name: str, config: Path, enabled: bool) -> None:
    """Enable or disable a tenant in the config file (the CLI's and the console's one way)."""
    document = _load_document(config)
    default_name = document.get("tenant", "default")
    if name == default_name:
        document["tenant_enabled"] = enabled
    else:
        tenants = document.get("tenants", {})
        if name not in tenants:
            known = ", ".join([default_name, *tenants])
            raise ConfigurationError(f"unknown tenant {name!r} in {config}; it defines: {known}")
        tenants[name]["enabled"] = enabled
    _save_validated(config, document)


def _set_enabled(name: str, config: Path, enabled: bool) -> None:
    set_enabled(name, config, enabled)
    word = "enabled" if enabled else "disabled"
    typer.echo(f"tenant {name!r} {word} in {config}; restart run/consume/produce to apply")


@tenants_app.command()
def disable(name: NameArgument, config: RequiredConfig) -> None:
    """Stop serving a tenant (its queues, DLQ, tokens and id map are kept)."""
    _set_enabled(name, config, False)


@tenants_app.command()
def enable(name: NameArgument, config: RequiredConfig) -> None:
    """Serve a disabled tenant again."""
    _set_enabled(name, config, True)


# --- pause / resume --------------------------------------------------------------------------------


@tenants_app.command()
def pause(
    name: NameArgument,
    config: ConfigOption = None,
    reason: Annotated[str, typer.Option(help="Why, for `tenants list`.")] = "paused by an operator",
) -> None:
    """Pause a tenant now on every process (e.g. while its accounts are being fixed)."""
    first = pause_now(_settings(config), name, reason)
    typer.echo(f"tenant {name!r} paused" if first else f"tenant {name!r} was already paused")


def pause_now(settings: Any, name: str, reason: str, store: Any = None) -> bool:
    """Pause a tenant on every process; False when it already was."""
    app = _tenant(settings, name, store)
    try:
        return app.store.pause_tenant(name, "PausedByOperator", reason, "")
    finally:
        app.close()


def resume_now(settings: Any, name: str, *, replay: bool = True, store: Any = None) -> tuple[Any, int, int]:
    """Lift the pause and replay what it parked: (the pause it was or None, replayed, failed)."""
    from infra.bus.publisher import is_memory_url

    app = _tenant(settings, name, store)
    try:
        was = app.store.resume_tenant(name)
        replayed = failed = 0
        if replay and not is_memory_url(settings.amqp_url):
            replayed, failed = replay_parked(app)
        return was, replayed, failed
    finally:
        app.close()


@tenants_app.command()
def resume(
    name: NameArgument,
    config: ConfigOption = None,
    replay: Annotated[
        bool, typer.Option(help="Replay what the pause parked in the tenant's DLQ (needs RabbitMQ).")
    ] = True,
) -> None:
    """Lift a tenant's pause: its consumers and pollers start again, and the parked events are replayed."""
    from infra.bus.publisher import is_memory_url

    settings = _settings(config)
    was, replayed, failed = resume_now(settings, name, replay=replay)
    if was is None:
        typer.echo(f"tenant {name!r} was not paused")
    else:
        typer.echo(f"tenant {name!r} resumed (was paused since {was.paused_at:%Y-%m-%d %H:%M:%S} UTC)")
    if replay and not is_memory_url(settings.amqp_url):
        from infra.bus.topology import Topology

        dlq = Topology.from_settings(settings.for_tenant(name).bus).dlq.name
        typer.echo(f"replayed {replayed} parked event(s) from {dlq}")
        if failed:
            typer.echo(f"{failed} could not be replayed and stay in the DLQ (`dlq list --tenant {name}`)")
            raise typer.Exit(1)


def replay_parked(app: Any) -> tuple[int, int]:
    """Replay the tenant's dead letters that a pause caused or parked; (replayed, failed)."""
    from infra.bus.dlq import DlqSession, collect, replay_all
    from infra.bus.dlq_records import DeadLetterFilter
    from infra.errors import PAUSE_ERROR_CLASSES

    with DlqSession(app.settings.amqp_url, app.topology) as session:
        held = collect(session, DeadLetterFilter(error_classes=PAUSE_ERROR_CLASSES))
        report = replay_all(session, held)
    return len(report.replayed), len(report.failed)


def _tenant(settings: Any, name: str, store: Any = None) -> Any:
    from auvo_bling.wiring import App

    return App(settings.for_tenant(name), shared_store=store)
