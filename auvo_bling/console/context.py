"""What every console page needs: the bootstrap settings, the store, the session keeper, rendering."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from auvo_bling.console.i18n import MESSAGES, pick_language, translator
from auvo_bling.console.login import LoginLimiter
from auvo_bling.console.sessions import SessionKeeper
from auvo_bling.wiring import App
from infra.logging import scrub
from infra.settings import Settings
from infra.store import Store
from infra.store.console_access import ConsoleSession

HERE = Path(__file__).parent
REGISTRY_SECONDS = 1.0
log = structlog.get_logger("console")


@dataclass
class Console:
    loaded: Settings  # as loaded (file and environment); `bootstrap` adds the database's tenants
    store: Store
    keeper: SessionKeeper
    config_path: Path | None = None
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(HERE / "templates"))
    )
    _merged: tuple[float, Settings] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap(self) -> Settings:
        """The loaded settings with the tenants kept in the database, read again at most every
        second: a company another console or the CLI added shows on the next page."""
        now = time.monotonic()
        cached = self._merged
        if cached is None or now - cached[0] > REGISTRY_SECONDS:
            from auvo_bling.tenant_registry import with_database_tenants

            try:
                merged = with_database_tenants(self.loaded, self.store)
            except Exception as exc:  # the database is away, or a stored section no longer loads
                log.warning("the companies in the database were not read", error=scrub(str(exc)))
                merged = cached[1] if cached is not None else self.loaded
            cached = (now, merged)
            self._merged = cached
        return cached[1]

    def forget_tenants(self) -> None:
        """A company was added or changed here: the next page reads the registry again."""
        self._merged = None

    @property
    def limiter(self) -> LoginLimiter:
        return LoginLimiter(self.store, self.bootstrap.console)

    def language(self, request: Request) -> str:
        return pick_language(self.bootstrap.console.language, request.headers.get("accept-language"))

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session: ConsoleSession | None = request.scope.get("state", {}).get("console_session")
        language = self.language(request)
        done = request.query_params.get("done")
        values = {
            "t": translator(language),
            "lang": language,
            "session": session,
            "user": session.user if session else None,
            "csrf": session.csrf_token if session else "",
            "done": done if done in MESSAGES else None,
            "tenants": self.bootstrap.tenant_names(),
            **context,
        }
        return self.templates.TemplateResponse(request, name, values, status_code=status_code)

    def session(self, request: Request) -> ConsoleSession:
        return request.scope["state"]["console_session"]

    def reload_bootstrap(self) -> None:
        """Read the config file again (a company was added to it); the environment still wins."""
        from infra.settings import load_settings

        self.loaded = load_settings(self.config_path)
        self.forget_tenants()

    def knows(self, tenant: str) -> bool:
        return tenant in self.bootstrap.tenant_names()

    def tenant_settings(self, tenant: str) -> Settings:
        """The settings the tenant runs with now (the bootstrap's, with what the console saved)."""
        from auvo_bling.company_options import tenant_settings

        return tenant_settings(self.store, self.bootstrap, tenant)

    def record_change(
        self, request: Request, tenant: str, action: str, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        """One audit row per change made in the console that is not an options save (those write theirs)."""
        self.store.record_audit(f"console:{self.session(request).user.name}", tenant, action, before, after)

    def tenant_app(self, tenant: str, **bling_overrides: Any) -> App:
        settings = self.tenant_settings(tenant)
        if bling_overrides:
            settings = settings.model_copy(
                update={"bling": settings.bling.model_copy(update=bling_overrides)}
            )
        return App(settings, shared_store=self.store)
