"""What every console page needs: the bootstrap settings, the store, the session keeper, rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from auvo_bling.console.i18n import MESSAGES, pick_language, translator
from auvo_bling.console.login import LoginLimiter
from auvo_bling.console.sessions import SessionKeeper
from auvo_bling.wiring import App
from infra.settings import Settings
from infra.store import Store
from infra.store.console_access import ConsoleSession

HERE = Path(__file__).parent


@dataclass
class Console:
    bootstrap: Settings
    store: Store
    keeper: SessionKeeper
    config_path: Path | None = None
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(HERE / "templates"))
    )

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

        self.bootstrap = load_settings(self.config_path)

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
