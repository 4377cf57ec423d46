"""The console's app factory: the routes of every page behind one guard, templates and static files."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from auvo_bling.console import (
    access_pages,
    company_pages,
    falhas_pages,
    operacao_pages,
    option_pages,
    setup_pages,
    story_pages,
)
from auvo_bling.console.context import HERE, Console
from auvo_bling.console.guard import ConsoleGuard
from auvo_bling.console.headers import SecurityHeaders
from auvo_bling.console.sessions import SessionKeeper
from infra.settings import Settings
from infra.store import Store


def create_console_app(bootstrap: Settings, store: Store, *, config_path: Path | None = None) -> Starlette:
    secret = bootstrap.secret_key.get_secret_value() if bootstrap.secret_key else None
    keeper = SessionKeeper.from_secret(store, bootstrap.console, secret)
    console = Console(bootstrap, store, keeper, config_path=config_path)
    live = operacao_pages.shared_snapshot(console)  # one per app: every open Operação page shares it
    routes: list[BaseRoute] = [
        *access_pages.routes(console),
        *company_pages.routes(console),
        *operacao_pages.routes(console, live),
        *option_pages.routes(console),
        *setup_pages.routes(console),
        *story_pages.routes(console),
        *falhas_pages.routes(console),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(ConsoleGuard, keeper=keeper, language_of=console.language)
    app.add_middleware(SecurityHeaders)  # outside the guard: its refusals and redirects carry them too
    # outermost: X-Forwarded-Proto/For count only from the trusted proxies (the TLS proxy in front),
    # so the scheme decides the cookie's Secure flag and the address the login limit's key
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(bootstrap.console.trusted_proxies))
    app.state.console = console
    app.state.operacao_shared = live
    return app
