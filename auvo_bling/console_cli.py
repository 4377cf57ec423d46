"""`auvo-bling console ...`: serve the web console and manage its local users."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from auvo_bling.cli_options import ConfigOption
from infra.errors import ConfigurationError

console_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="The web console: `serve` it, `add-user` to let people in.",
)


def _settings(config: Path | None, *, log_level: str | None = None) -> Any:
    """The settings; logging as they say (`log_level`: at most that chatty), unless the host process
    (a test, a notebook) configured structlog already."""
    import structlog

    from infra.logging import configure_logging
    from infra.settings import load_settings

    settings = load_settings(config)
    if not structlog.is_configured():
        configure_logging(settings.log_format, log_level or settings.log_level)
    return settings


@console_app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default: console.host, 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: console.port, 8770).")] = None,
) -> None:
    """Serve the console; put it behind a TLS proxy to reach it from another machine (README)."""
    import uvicorn

    from auvo_bling.console.app import create_console_app
    from infra.store import Store

    settings = _settings(config)
    store = Store(settings.database_url, upgrade=settings.database_auto_upgrade)
    app = create_console_app(settings, store, config_path=config)
    bind, bind_port = host or settings.console.host, port if port is not None else settings.console.port
    typer.echo(f"console on http://{bind}:{bind_port}/ (tenants: {', '.join(settings.tenant_names())})")
    try:
        uvicorn.run(
            app,
            host=bind,
            port=bind_port,
            proxy_headers=False,  # the app applies them itself, from console.trusted_proxies
            log_level="warning",
            access_log=False,
        )
    finally:
        store.dispose()


def start_in_background(settings: Any, store: Any, config_path: Path | None, host: str, port: int) -> Any:
    """Serve the console from a daemon thread of another command (`run --console-port`); the
    socket is bound here first, so a port in use is one line at start, not a dead thread."""
    import socket
    import threading

    import uvicorn

    from auvo_bling.console.app import create_console_app

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot serve the console on {host}:{port}: {exc.strerror or exc}"
        ) from None
    app = create_console_app(settings, store, config_path=config_path)
    server = uvicorn.Server(
        uvicorn.Config(app, proxy_headers=False, log_level="warning", access_log=False, lifespan="off")
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="console", daemon=True).start()
    return server


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@console_app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="The user name to sign in with.")],
    role: Annotated[str, typer.Option(help="admin (options, authorization, companies), operator or viewer.")],
    config: ConfigOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Create a console user, or give an existing one a new password and role (its sessions end).

    The password is prompted for (or read from stdin), never taken from the command line, where
    other users of the machine and the shell history would see it.
    """
    from auvo_bling.console.passwords import hash_password
    from auvo_bling.console.roles import ROLES
    from infra.store import Store

    if role not in ROLES:
        raise ConfigurationError(f"--role must be one of {', '.join(ROLES)} (got {role!r})")
    if not name or len(name) > 64 or not name.isprintable():
        raise ConfigurationError("the user name must be 1-64 printable characters")
    settings = _settings(config, log_level="warning")
    try:
        password_hash = hash_password(_read_password(password_stdin))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    store = Store(settings.database_url, upgrade=settings.database_auto_upgrade)
    try:
        created = store.save_console_user(name, role, password_hash)
    finally:
        store.dispose()
    typer.echo(f"console user {name!r} {'created' if created else 'updated'} ({role})")
