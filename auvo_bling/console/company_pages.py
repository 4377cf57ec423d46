"""The companies (tenants): the list, add and enable/disable (the config file when the console
was started with one, else the database's registry), pause/resume (the store).

The same functions as `auvo-bling tenants ...` (auvo_bling/tenants_cli.py,
auvo_bling/tenant_registry.py), so the console and the CLI cannot disagree on what a pause, a
resume or an added company does. A company kept in the database is served by the running
processes within a poll interval; one added to the file when they restart.
"""

from __future__ import annotations

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auvo_bling import tenants_cli
from auvo_bling.console.context import Console
from auvo_bling.console.forms import read_form
from auvo_bling.tenant_registry import add_tenant, set_tenant_state
from infra.errors import ConfigurationError
from infra.logging import scrub
from infra.quota import BudgetView

log = structlog.get_logger("console")


def routes(console: Console) -> list[Route]:
    def companies(request: Request) -> Response:
        rows = tenants_cli.tenant_rows(console.bootstrap, console.store)
        return console.render(
            request,
            "companies.html",
            rows=rows,
            budgets={row["tenant"]: _budget(row["tenant"]) for row in rows},
            editable=True,
            in_file=console.config_path is not None,
            error=request.query_params.get("error"),
        )

    def _budget(tenant: str) -> BudgetView | None:
        """The tenant's Bling calls today against its daily budget (the numbers `status` shows);
        None when its settings do not load (the row says what is missing)."""
        try:
            return console.tenant_app(tenant).budget.view()
        except Exception as exc:
            log.warning("daily budget not read", tenant=tenant, error=scrub(str(exc)))
            return None

    def _tenant_or_404(request: Request) -> str | None:
        tenant = request.path_params["tenant"]
        return tenant if console.knows(tenant) else None

    def _back(done: str) -> Response:
        return RedirectResponse(f"/companies?done={done}", status_code=303)

    def enable(request: Request) -> Response:
        return _set_enabled(request, True)

    def disable(request: Request) -> Response:
        return _set_enabled(request, False)

    def _set_enabled(request: Request, enabled: bool) -> Response:
        tenant = _tenant_or_404(request)
        if tenant is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        if console.bootstrap.tenant_source(tenant) == "database":
            try:
                set_tenant_state(
                    console.store,
                    console.loaded,
                    tenant,
                    "enabled" if enabled else "disabled",
                    _actor(request),
                )
            except ConfigurationError as exc:
                return console.render(request, "message.html", status_code=400, message_text=str(exc))
            console.forget_tenants()  # the registry's audit row is the record of this change
            return _back("applied_within_poll")
        if console.config_path is None:
            return _back("needs_config")
        try:
            tenants_cli.set_enabled(tenant, console.config_path, enabled)
        except ConfigurationError as exc:
            return console.render(request, "message.html", status_code=400, message_text=str(exc))
        console.record_change(
            request,
            tenant,
            "enable" if enabled else "disable",
            {"enabled": not enabled},
            {"enabled": enabled},
        )
        return _back("restart_to_apply")

    def _actor(request: Request) -> str:
        return f"console:{console.session(request).user.name}"

    def pause(request: Request) -> Response:
        tenant = _tenant_or_404(request)
        if tenant is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        user = console.session(request).user.name
        tenants_cli.pause_now(
            console.bootstrap, tenant, f"paused in the console by {user}", store=console.store
        )
        console.record_change(request, tenant, "pause", {"paused": False}, {"paused": True})
        return _back("paused_ok")

    def resume(request: Request) -> Response:
        tenant = _tenant_or_404(request)
        if tenant is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        tenants_cli.resume_now(console.bootstrap, tenant, store=console.store)
        console.record_change(request, tenant, "resume", {"paused": True}, {"paused": False})
        return _back("resumed_ok")

    async def add(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_add, request, form.get("name").strip())

    def _add(request: Request, name: str) -> Response:
        if console.config_path is None:  # no file to edit: the company is kept in the database
            try:
                # added disabled: it is served once its setup is done and it is enabled, not
                # polled with missing credentials in the meantime
                add_tenant(console.store, console.loaded, name, {}, _actor(request), enabled=False)
            except ConfigurationError as exc:
                return console.render(request, "message.html", status_code=400, message_text=str(exc))
            console.forget_tenants()
            return RedirectResponse(f"/companies/{name}/setup?done=added_to_database", status_code=303)
        try:
            tenants_cli.add_to_file(name, console.config_path, {})
            console.reload_bootstrap()
        except ConfigurationError as exc:
            return console.render(request, "message.html", status_code=400, message_text=str(exc))
        console.record_change(request, name, "company.add", {}, {"enabled": True})
        # the same setup steps as any company: the Bling app, the Auvo API, "Autorizar"
        return RedirectResponse(f"/companies/{name}/setup?done=restart_to_apply", status_code=303)

    return [
        Route("/companies", companies, methods=["GET"], name="companies"),
        Route("/companies/add", add, methods=["POST"], name="company_add"),
        Route("/companies/{tenant}/enable", enable, methods=["POST"], name="company_enable"),
        Route("/companies/{tenant}/disable", disable, methods=["POST"], name="company_disable"),
        Route("/companies/{tenant}/pause", pause, methods=["POST"], name="company_pause"),
        Route("/companies/{tenant}/resume", resume, methods=["POST"], name="company_resume"),
    ]
