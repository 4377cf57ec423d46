"""`auvo-bling options show|set|unset` and `auvo-bling audit`: the console's options from a terminal.

The same functions as the console (auvo_bling/company_options.py): the same precedence, pins,
validation messages and audit rows; the actor is "cli:<user>". Running processes apply a saved
change within one poll interval, without a restart (auvo_bling/options_reload.py).
"""

from __future__ import annotations

import contextlib
import getpass
import json
from typing import Annotated, Any

import typer

from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app

options_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Show and change a company's options (kept in the database; TOML/environment values pin theirs).",
)

KeyArgument = Annotated[str, typer.Argument(metavar="KEY", help="The option, e.g. tasks.status.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only data (JSON) on stdout.")]
# the Auvo lookups that check a task type or customer group id exist
AUVO_CHECKED = frozenset({"tasks.enabled", "tasks.task_types", "tasks.customer_group"})


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (a container without passwd entry)
        return "cli:unknown"


def _shown(option: Any) -> str:
    if option.field.secret:
        return "set" if option.is_set else "unset"
    value = option.value
    if value is None or value == []:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def option_rows(options: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "option": o.field.key,
            "label": o.field.label_pt,
            "value": _shown(o),
            "source": o.source,
            "pinned": o.pinned,
            "pinned_by": o.pinned_by,
            "problem": o.problem,
        }
        for o in options
    ]


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


@options_app.command("show")
def show(config: ConfigOption = None, tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """Every option: its value, where it comes from (default, console, toml, env), and its pin."""
    from auvo_bling.company_options import effective_options, options_applied

    app = tenant_app(config, tenant, log_level="warning", company_options=False)
    try:
        rows = option_rows(effective_options(app.store, app.bootstrap or app.settings, app.tenant))
        applied = options_applied(app.store, app.tenant)
    finally:
        app.close()
    if as_json:
        typer.echo(json.dumps({"tenant": app.tenant, "options": rows}, ensure_ascii=False))
        return
    for row in rows:
        row["pinned"] = f"yes ({row['pinned_by']})" if row["pinned"] else "no"
    typer.echo(_table(rows, ["option", "value", "source", "pinned"]))
    for row in rows:
        if row["problem"]:
            typer.echo(f"saved {row['option']} does not load: {row['problem']}")
    if applied.revision_applied is None:
        typer.echo(f"\nrevision {applied.revision_saved}; no running process has reported yet")
    else:
        at = applied.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC") if applied.applied_at else "?"
        typer.echo(
            f"\nrevision {applied.revision_saved} saved; revision {applied.revision_applied} applied "
            f"at {at} by {applied.by_process}"
        )


def _save(config: Any, tenant: str | None, changes: dict[str, Any]) -> None:
    from auvo_bling.company_options import save_options, tenant_settings
    from infra.errors import ConfigurationError

    app = tenant_app(config, tenant, log_level="warning", company_options=False)
    try:
        auvo = None
        if AUVO_CHECKED & set(changes):
            # the Auvo credentials may be console options themselves; a saved option that no longer
            # loads is no reason to refuse: this change may be its fix
            with contextlib.suppress(ConfigurationError):
                app.apply_settings(tenant_settings(app.store, app.bootstrap or app.settings, app.tenant))
            if not [m for m in app.settings.required_for_run() if "auvo." in m]:
                auvo = app.auvo_client()
        saved = save_options(
            app.store, app.bootstrap or app.settings, app.tenant, changes, cli_actor(), auvo=auvo
        )
    finally:
        app.close()
    if saved.changed_keys:
        typer.echo(
            f"saved revision {saved.revision} of tenant {app.tenant!r}: {', '.join(saved.changed_keys)}; "
            "running processes apply it within one poll interval"
        )
    else:
        typer.echo(f"nothing changed (revision {saved.revision} of tenant {app.tenant!r})")


@options_app.command("set")
def set_option(
    key: KeyArgument,
    value: Annotated[
        str | None,
        typer.Argument(help="The value (lists: 11,12). Left out for a secret: asked without echo."),
    ] = None,
    config: ConfigOption = None,
    tenant: TenantOption = None,
) -> None:
    """Change one option, validated by the settings' own rules."""
    from contracts.option_fields import FIELDS_BY_KEY

    if value is None:
        option = FIELDS_BY_KEY.get(key)
        if option is None or not option.secret:
            raise typer.BadParameter("a value is needed (only a secret is asked for)", param_hint="VALUE")
        value = typer.prompt(option.label_en, hide_input=True)
    _save(config, tenant, {key: value})


@options_app.command("unset")
def unset_option(key: KeyArgument, config: ConfigOption = None, tenant: TenantOption = None) -> None:
    """Forget the console's value: the option goes back to the TOML/environment or default one."""
    _save(config, tenant, {key: None})


def audit_command(
    config: ConfigOption = None,
    tenant: TenantOption = None,
    limit: Annotated[int, typer.Option(help="Entries to show, newest first.", min=1)] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many of the newest.", min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """Who changed what, when: before -> after (secrets only ever as ••••)."""
    app = tenant_app(config, tenant, log_level="warning", company_options=False)
    try:
        entries = app.store.audit_entries(app.tenant, limit=limit, offset=offset)
    finally:
        app.close()
    rows = [
        {
            "at": e.at.strftime("%Y-%m-%d %H:%M:%S"),
            "actor": e.actor,
            "tenant": e.tenant,
            "action": e.action,
            "before": e.before,
            "after": e.after,
        }
        for e in entries
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"no audit entries for tenant {app.tenant!r}")
        return
    for row in rows:
        change = ", ".join(
            f"{k}: {json.dumps(row['before'].get(k), ensure_ascii=False)} -> "
            f"{json.dumps(row['after'].get(k), ensure_ascii=False)}"
            for k in sorted(set(row["before"]) | set(row["after"]))
        )
        row["change"] = change
    typer.echo(_table(rows, ["at", "actor", "action", "change"]))
