"""The options page of a company (the guide's panel) and the audit log."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from auvo_bling.company_options import (
    AppliedState,
    OptionsRefused,
    effective_options,
    options_applied,
    save_options,
)
from auvo_bling.console.context import Console
from auvo_bling.console.forms import Form, read_form
from auvo_bling.console.i18n import translator
from auvo_bling.console.option_form import CREDENTIAL_GROUPS, changes_from, field_views
from auvo_bling.option_choices import auvo_choices
from infra.errors import ConfigurationError, IntegrationError
from infra.logging import scrub

log = structlog.get_logger("console")


def applied_text(state: AppliedState, language: str) -> str:
    """ "salvo — aplicado às 14:03 UTC por host:pid", or that the running processes did not yet."""
    t = translator(language)
    if state.up_to_date and state.applied_at is not None:
        return f"{t('saved_applied')} {state.applied_at:%H:%M} UTC {t('by')} {state.by_process}"
    return t("saved_pending")


def routes(console: Console) -> list[Route]:
    def _lists(tenant: str, options: list[Any]) -> tuple[dict[str, Any], str | None]:
        wanted = {o.field.choices_source: o.field for o in options if o.field.choices_source and not o.pinned}
        if not wanted:
            return {}, None
        app = console.tenant_app(tenant)
        try:
            auvo = app.auvo_client()
            return {source: auvo_choices(option, auvo) for source, option in wanted.items()}, None
        except (IntegrationError, ConfigurationError) as exc:
            return {}, scrub(str(exc))
        except Exception as exc:  # Auvo away: the page still shows, with the reason
            return {}, scrub(str(exc)) or type(exc).__name__
        finally:
            app.close()

    def _page(
        request: Request,
        tenant: str,
        *,
        submitted: Form | None = None,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        options = effective_options(console.store, console.bootstrap, tenant)
        shown = [o for o in options if o.field.group not in CREDENTIAL_GROUPS]
        lists, lists_error = _lists(tenant, shown)
        state = options_applied(console.store, tenant)
        views = field_views(options, lists, console.language(request), submitted=submitted, errors=errors)
        return console.render(
            request,
            "options.html",
            status_code=status,
            tenant=tenant,
            fields=views,
            applied=state,
            applied_text=applied_text(state, console.language(request)),
            lists_error=lists_error,
            errors=errors or {},
            unknown_errors={k: v for k, v in (errors or {}).items() if k not in {f.key for f in views}},
        )

    def options_page(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not console.knows(tenant):
            return console.render(request, "message.html", status_code=404, message="not_found")
        return _page(request, tenant)

    async def options_save(request: Request) -> Response:
        form = await read_form(request)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_save, request, form)

    def _save(request: Request, form: Form) -> Response:
        tenant = request.path_params["tenant"]
        if not console.knows(tenant):
            return console.render(request, "message.html", status_code=404, message="not_found")
        options = effective_options(console.store, console.bootstrap, tenant)
        keys = {o.field.key for o in options if o.field.group not in CREDENTIAL_GROUPS}
        changes = changes_from(form, options, keys)
        actor = f"console:{console.session(request).user.name}"
        app = console.tenant_app(tenant)
        try:
            save_options(console.store, console.bootstrap, tenant, changes, actor, auvo=app.auvo_client())
        except OptionsRefused as exc:
            return _page(request, tenant, submitted=form, errors=exc.errors, status=400)
        except IntegrationError as exc:  # Auvo could not be asked about the ids: nothing saved
            return _page(
                request, tenant, submitted=form, errors={"tasks.task_types": scrub(str(exc))}, status=502
            )
        finally:
            app.close()
        log.info("console options saved", tenant=tenant, user=actor, keys=sorted(changes))
        return RedirectResponse(f"/companies/{tenant}/options?done=saved_ok", status_code=303)

    def applied(request: Request) -> Response:
        """The saved/applied line alone, for the page's script to follow until the change is applied."""
        tenant = request.path_params["tenant"]
        if not console.knows(tenant):
            return JSONResponse({"error": "not found"}, status_code=404)
        state = options_applied(console.store, tenant)
        return JSONResponse(
            {"up_to_date": state.up_to_date, "text": applied_text(state, console.language(request))}
        )

    def audit(request: Request) -> Response:
        tenant = request.query_params.get("tenant") or None
        try:
            page = max(0, int(request.query_params.get("page", "0")))
        except ValueError:
            page = 0
        entries = console.store.audit_entries(tenant=tenant, limit=50, offset=page * 50)
        return console.render(request, "audit.html", entries=entries, tenant=tenant, page=page)

    return [
        Route("/companies/{tenant}/options", options_page, methods=["GET"], name="options"),
        Route("/companies/{tenant}/options", options_save, methods=["POST"], name="options_save"),
        Route("/companies/{tenant}/options/applied", applied, methods=["GET"], name="options_applied"),
        Route("/audit", audit, methods=["GET"], name="audit"),
    ]
