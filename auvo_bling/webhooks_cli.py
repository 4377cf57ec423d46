"""`auvo-bling webhooks ...`: serve the receiver, and manage Auvo's webhook registrations.

Auvo's webhooks are created through its API (`/webHooks`), so `register` does it: one webhook per
(entity, action) for customers and tasks, pointing at `<url>/webhooks/auvo/<webhooks.auvo_secret>`.
It is idempotent (what is already registered for that URL is kept) and `list` never prints the
secret. Bling's webhooks are configured in the Bling app's page (README: "Webhooks").
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app

if TYPE_CHECKING:
    from auvo_bling.wiring import App

webhooks_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Receive pushed changes (serve) and manage Auvo's webhook registrations.",
)


AUVO_ENTITIES = ("Customer", "Task")
AUVO_ACTIONS = ("Inclusao", "Alteracao", "Exclusao")
AUVO_PATH = "/webhooks/auvo/"
MASK = "<secret>"


def _auvo_secret(app: App) -> str:
    from infra.errors import ConfigurationError

    secret = app.settings.webhooks.auvo_secret
    value = secret.get_secret_value() if secret is not None else ""
    if len(value) < 16:
        raise ConfigurationError(
            "webhooks.auvo_secret (AUVO_BLING_WEBHOOKS__AUVO_SECRET) must be set to at least 16 "
            "characters, e.g. $(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value


def target_url(public_url: str, secret: str) -> str:
    """The URL Auvo posts to: the public base, our Auvo route, the secret segment."""
    return public_url.rstrip("/") + AUVO_PATH + secret


def masked(url: str, secret: str = "") -> str:
    """A registered URL fit to print: the secret (and whatever follows our route) replaced.

    Masked by position as well as by value, so a URL registered with another secret (an old one,
    another deployment's) is not printed either.
    """
    if secret:
        url = url.replace(secret, MASK)
    head, found, _ = url.partition(AUVO_PATH)
    return head + AUVO_PATH + MASK if found else url


def _url_of(hook: dict[str, Any]) -> str:
    return str(hook.get("urlResponse") or hook.get("targetUrl") or "")


def ours(hook: dict[str, Any]) -> bool:
    """A webhook this integration registered (its URL is our Auvo route)."""
    return AUVO_PATH in _url_of(hook)


@webhooks_app.command()
def serve(
    config: ConfigOption = None,
    tenant: TenantOption = None,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default webhooks.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default webhooks.port).")] = None,
) -> None:
    """Serve POST /webhooks/bling and /webhooks/auvo/<secret> until Ctrl-C (put TLS in front)."""
    import uvicorn

    from auvo_bling.options_reload import OptionsWatcher, follow_in_receiver
    from auvo_bling.wiring import start_thread
    from producers.webhooks.receiver import create_webhook_app

    app = tenant_app(config, tenant)
    _auvo_secret(app)
    app.declare_topology()
    hooks = app.settings.webhooks
    receiver = app.webhook_receiver()
    stop = threading.Event()
    if app.bootstrap is not None:  # saved options reach the receiver without a restart
        watcher = OptionsWatcher(app, app.bootstrap, follow_in_receiver(app, receiver))
        start_thread(watcher.run, f"options-{app.tenant}", stop)
    try:
        uvicorn.run(
            create_webhook_app(receiver),
            host=host or hooks.host,
            port=port if port is not None else hooks.port,
            log_level="warning",
            access_log=False,  # the access log would print the Auvo secret in the path
        )
    finally:
        stop.set()
        app.close()


@webhooks_app.command()
def register(
    url: Annotated[
        str, typer.Option("--url", help="Public base URL of the receiver, e.g. https://hooks.acme.com")
    ],
    config: ConfigOption = None,
    tenant: TenantOption = None,
) -> None:
    """Create Auvo webhooks for customers and tasks (inclusão, alteração, exclusão); idempotent."""
    app = tenant_app(config, tenant)
    try:
        secret = _auvo_secret(app)
        target = target_url(url, secret)
        existing = {
            (h.get("entity"), str(h.get("action")).lower())
            for h in app.auvo.iter_webhooks()
            if _url_of(h) == target
        }
        for entity in AUVO_ENTITIES:
            for action in AUVO_ACTIONS:
                if (entity, action.lower()) in existing:
                    typer.echo(f"kept     {entity:<8} {action:<9} {masked(target, secret)}")
                    continue
                created = app.auvo.create_webhook(
                    {"entity": entity, "action": action, "targetUrl": target, "active": True}
                )
                typer.echo(f"created  {entity:<8} {action:<9} id {created.get('id')}")
    finally:
        app.close()


@webhooks_app.command("list")
def list_(config: ConfigOption = None, tenant: TenantOption = None) -> None:
    """The Auvo account's webhooks (the secret in our URLs is masked)."""
    app = tenant_app(config, tenant)
    try:
        secret = app.settings.webhooks.auvo_secret
        value = secret.get_secret_value() if secret is not None else ""
        hooks = list(app.auvo.iter_webhooks())
        if not hooks:
            typer.echo("no webhooks registered in Auvo")
        for hook in hooks:
            mark = "*" if ours(hook) else " "
            typer.echo(
                f"{mark} {hook.get('id')!s:<8} {hook.get('entity')!s:<8} {hook.get('action')!s:<9} "
                f"active={hook.get('active')} {masked(_url_of(hook), value)}"
            )
        if hooks:
            typer.echo("(* = registered by this integration)")
    finally:
        app.close()


@webhooks_app.command()
def unregister(
    webhook_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="One webhook id (see `list`).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every webhook pointing at /webhooks/auvo/.")] = False,
    config: ConfigOption = None,
    tenant: TenantOption = None,
) -> None:
    """Delete one Auvo webhook by id, or with --all every one this integration registered."""
    if (webhook_id is None) == (not all_):
        raise typer.BadParameter("give either an ID or --all")
    app = tenant_app(config, tenant)
    try:
        ids = (
            [webhook_id]
            if webhook_id is not None
            else [h.get("id") for h in app.auvo.iter_webhooks() if ours(h)]
        )
        for hook_id in ids:
            app.auvo.delete_webhook(str(hook_id))
            typer.echo(f"deleted  {hook_id}")
        if not ids:
            typer.echo("nothing to delete")
    finally:
        app.close()


@webhooks_app.command("allow-recreate")
def allow_recreate(
    entity: Annotated[str, typer.Argument(help="task (a task's pedido), quote (proposta) or quote_order.")],
    auvo_id: Annotated[str, typer.Argument(help="The Auvo task or quotation id.")],
    config: ConfigOption = None,
    tenant: TenantOption = None,
) -> None:
    """Let the next change of an Auvo job create again the document a Bling user deleted."""
    app = tenant_app(config, tenant)
    try:
        if app.store.allow_recreate(app.tenant, entity, auvo_id):
            typer.echo(f"{entity} {auvo_id}: the next change creates its Bling document again")
        else:
            typer.echo(f"{entity} {auvo_id}: no deletion recorded")
            raise typer.Exit(1)
    finally:
        app.close()
