"""`auvo-bling tenants ...`: the Auvo <> Bling pairs one deployment serves.

Tenants live in the config file (`[tenants.<name>]`, one section each) or in the database. With
`--config FILE`, `add`, `enable` and `disable` edit that file (with tomlkit, keeping its comments
and layout) and validate the result before replacing it; running processes apply it when
restarted. With `--database` (`add`) or for a tenant the database holds, they change the registry
(auvo_bling/tenant_registry.py): credentials go in as company options, sealed by the vault, and
running processes follow within a poll interval, without a restart; `remove` stops a database
tenant for good (its queued events are still handled). `pause` and `resume` act at once on every
process through the store: a paused tenant's consumers and pollers stand still while the others
go on, and `resume` replays what the pause parked in the tenant's DLQ.
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
    """One row per tenant, the file's and the database's: whether it is served, paused (and why),
    and what it still lacks (with the company options saved in the database: credentials set in
    the console are not missing)."""
    from auvo_bling.company_options import tenant_settings
    from auvo_bling.tenant_registry import with_database_tenants
    from infra.store import Store

    store = shared_store or Store(settings.database_url)
    try:
        settings = with_database_tenants(settings, store)
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
                    "source": settings.tenant_source(name),
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
            f"bling={'authorized' if row['bling_authorized'] else 'NOT authorized'} in={row['source']}"
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
    config: ConfigOption = None,
    database: Annotated[
        bool,
        typer.Option(
            "--database",
            help="Keep the tenant in the database (credentials sealed by the vault; running "
            "processes serve it within a poll interval) instead of a [tenants.<name>] section of --config.",
        ),
    ] = False,
    auvo_api_key: Annotated[str | None, typer.Option(help="Auvo API key (or in the file/env).")] = None,
    auvo_api_token: Annotated[str | None, typer.Option(help="Auvo API token.")] = None,
    bling_client_id: Annotated[str | None, typer.Option(help="Bling app client id.")] = None,
    bling_client_secret: Annotated[str | None, typer.Option(help="Bling app client secret.")] = None,
    direction: Annotated[
        str | None, typer.Option(help="customers.direction: auvo_to_bling, bling_to_auvo or both.")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it disabled.")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="With --database: another setting of the tenant, e.g. tasks.enabled=true or "
            "auvo.base_url=https://...; repeatable.",
        ),
    ] = None,
) -> None:
    """Add a tenant (a [tenants.<name>] section of --config, or with --database the registry);
    then `authorize --tenant <name>`."""
    if database:
        pairs = _pairs(set_ or [])
        pairs.update(
            {
                key: value
                for key, value in {
                    "auvo.api_key": auvo_api_key,
                    "auvo.api_token": auvo_api_token,
                    "bling.client_id": bling_client_id,
                    "bling.client_secret": bling_client_secret,
                    "customers.direction": direction,
                }.items()
                if value is not None
            }
        )
        _add_to_database(name, config, pairs, enabled=not disabled)
        return
    if set_:
        raise typer.BadParameter(
            "--set goes with --database (in a file, write the section)", param_hint="--set"
        )
    if config is None:
        raise typer.BadParameter(
            "give --config FILE (the tenant becomes a [tenants.<name>] section of it) or --database "
            "(the tenant is kept in the database)",
            param_hint="--config / --database",
        )
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


def _pairs(items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        pairs[key.strip()] = value.strip()
    return pairs


def _add_to_database(name: str, config: Path | None, pairs: dict[str, str], *, enabled: bool) -> None:
    from auvo_bling.options_cli import cli_actor
    from auvo_bling.tenant_registry import add_tenant, section_values
    from infra.store import Store

    settings = _settings(config)
    options, section = section_values(name, pairs)
    store = Store(settings.database_url, upgrade=settings.database_auto_upgrade)
    try:
        merged = add_tenant(store, settings, name, options, cli_actor(), enabled=enabled, section=section)
        from auvo_bling.company_options import tenant_settings

        missing = tenant_settings(store, merged, name).required_for_run()
    finally:
        store.dispose()
    typer.echo(f"tenant {name!r} added to the database ({'enabled' if enabled else 'disabled'})")
    if missing:
        typer.echo(
            f"still missing (`auvo-bling options set --tenant {name} KEY`, a secret asked without "
            "echo; or the console): " + ", ".join(m.split(" (")[0] for m in missing)
        )
    where = f" -c {config}" if config else ""
    typer.echo(
        f"next: `auvo-bling authorize --tenant {name}{where}`; running processes serve it within a "
        "poll interval (no restart)"
    )


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


def _set_enabled(name: str, config: Path | None, enabled: bool) -> None:
    if config is not None and _defined_in_file(name, config):
        set_enabled(name, config, enabled)
        word = "enabled" if enabled else "disabled"
        typer.echo(f"tenant {name!r} {word} in {config}; restart run/consume/produce to apply")
        return
    _set_state(name, config, "enabled" if enabled else "disabled")


def _defined_in_file(name: str, config: Path) -> bool:
    document = _load_document(config)
    return name == document.get("tenant", "default") or name in document.get("tenants", {})


def _set_state(name: str, config: Path | None, state: str) -> None:
    from auvo_bling.options_cli import cli_actor
    from auvo_bling.tenant_registry import set_tenant_state
    from infra.store import Store

    settings = _settings(config)
    store = Store(settings.database_url, upgrade=settings.database_auto_upgrade)
    try:
        was = set_tenant_state(store, settings, name, state, cli_actor())
    finally:
        store.dispose()
    if was == state:
        typer.echo(f"tenant {name!r} was already {state}")
        return
    follows = {
        "enabled": "running processes serve it within a poll interval",
        "disabled": "running processes stop polling it within a poll interval; what is queued is "
        "still handled",
        "removed": "running processes stop polling it within a poll interval; what is queued is still "
        "handled; `tenants enable` brings it back",
    }[state]
    typer.echo(f"tenant {name!r} {state} in the database: {follows}")


@tenants_app.command()
def disable(name: NameArgument, config: ConfigOption = None) -> None:
    """Stop serving a tenant (its queues, DLQ, tokens and id map are kept). A tenant of --config
    is disabled in the file (restart to apply); one of the database at once."""
    _set_enabled(name, config, False)


@tenants_app.command()
def enable(name: NameArgument, config: ConfigOption = None) -> None:
    """Serve a disabled (or removed) tenant again."""
    _set_enabled(name, config, True)


@tenants_app.command()
def remove(name: NameArgument, config: ConfigOption = None) -> None:
    """Remove a database tenant: no longer listed nor polled; its queued events are still handled
    (drained) and its id map and tokens kept, so `tenants enable` can bring it back."""
    _set_state(name, config, "removed")


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
        from auvo_bling.tenant_registry import known_tenant
        from infra.bus.topology import Topology

        dlq = Topology.from_settings(known_tenant(settings, name).bus).dlq.name
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
    from auvo_bling.tenant_registry import known_tenant
    from auvo_bling.wiring import App

    return App(known_tenant(settings, name, store), shared_store=store)
