"""Options every command shares (`--config`, `--tenant`) and the one way a command gets its App.

One definition, so `--tenant` means the same thing (and fails the same way for an unknown name)
on `authorize`, `check`, `backfill`, `status`, `dlq ...` and `webhooks ...`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from auvo_bling.wiring import App

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file (environment variables win).")
]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="The tenant (Auvo <> Bling pair) to act on: a [tenants.<name>] section of the config "
        "or a tenant of the database; default: the top-level one.",
    ),
]


def tenant_app(
    config: Path | None, tenant: str | None, *, log_level: str | None = None, company_options: bool = True
) -> App:
    """The App of one tenant, with its company options unless told not to (`options` itself must
    work when a saved option no longer loads); `log_level` None = the settings' own, else at most
    that chatty.

    A host process (a test, a notebook) that configured structlog already keeps its setup.
    """
    import structlog

    from auvo_bling.company_options import tenant_settings
    from auvo_bling.tenant_registry import with_database_tenants
    from auvo_bling.wiring import App
    from infra.errors import ConfigurationError
    from infra.logging import configure_logging
    from infra.settings import load_settings

    everything = load_settings(config)
    try:
        if tenant is not None and tenant not in everything.tenant_names():  # one of the database's?
            everything = with_database_tenants(everything)
        settings = everything.for_tenant(tenant)
    except ConfigurationError as exc:  # a usage error: exit 2 with the option named
        raise typer.BadParameter(str(exc), param_hint="--tenant") from None
    if log_level is None:
        configure_logging(settings.log_format, settings.log_level)
    elif not structlog.is_configured():
        configure_logging(settings.log_format, log_level)
    bootstrap = everything.bootstrap_for(settings.tenant)
    app = App(settings, bootstrap=bootstrap)
    if company_options:
        app.apply_settings(tenant_settings(app.store, bootstrap, settings.tenant))
    return app
