"""The guide's setup steps per company: the Bling app (redirect link, scopes, Client ID/Secret), the
Auvo API (key, token, "Testar conexão") and "Autorizar" (Bling's OAuth flow in the browser).

The redirect link is this console's own callback, so the authorization ends here; the OAuth calls
are auvo_bling/authorize.py's (state checked, code exchanged once, tokens into the vault) and the
connection test is `auvo-bling check`'s (auvo_bling/checks.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auvo_bling import authorize as oauth_flow
from auvo_bling.checks import run_check
from auvo_bling.company_options import OptionsRefused, effective_options, save_options
from auvo_bling.console.context import Console
from auvo_bling.console.forms import Form, read_form
from auvo_bling.console.option_form import changes_from, field_views
from infra.bling.oauth import REQUIRED_SCOPE_GROUPS, missing_scopes
from infra.bling.tokens import PROVIDER
from infra.errors import ConfigurationError, IntegrationError
from infra.logging import scrub

log = structlog.get_logger("console")

BLING_KEYS = {"bling.client_id", "bling.client_secret"}
AUVO_KEYS = {"auvo.api_key", "auvo.api_token"}
OAUTH_SESSION_KEY = "oauth"


def connection_verdict(error_class: str | None) -> str:
    """What "Testar conexão" says, by the check's error class: the guide's words for each case."""
    if error_class is None:
        return "connection_ok"
    if error_class == "AuvoApiDeactivated":
        return "auvo_deactivated"
    if error_class == "AuvoCredentialsInvalid":
        return "auvo_wrong_credentials"
    return "auvo_unreachable"


def routes(console: Console) -> list[Route]:
    def callback_url(request: Request) -> str:
        return str(request.url_for("oauth_callback"))

    def _page(request: Request, tenant: str, status: int = 200, **extra: Any) -> Response:
        options = effective_options(console.store, console.bootstrap, tenant)
        language = console.language(request)
        submitted: Form | None = extra.pop("submitted", None)
        errors: dict[str, str] = extra.pop("errors", {})
        return console.render(
            request,
            "setup.html",
            status_code=status,
            tenant=tenant,
            redirect_link=callback_url(request),
            scope_groups=list(REQUIRED_SCOPE_GROUPS),
            bling_fields=field_views(
                options, {}, language, groups=frozenset({"bling"}), submitted=submitted, errors=errors
            ),
            auvo_fields=field_views(
                options, {}, language, groups=frozenset({"auvo"}), submitted=submitted, errors=errors
            ),
            authorized=console.store.load_token(tenant, PROVIDER) is not None,
            **extra,
        )

    def _known(request: Request) -> str | None:
        tenant = request.path_params["tenant"]
        return tenant if console.knows(tenant) else None

    def setup(request: Request) -> Response:
        tenant = _known(request)
        if tenant is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        return _page(request, tenant)

    def _save(request: Request, form: Form, keys: set[str], step: str) -> Response:
        tenant = _known(request)
        if tenant is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        options = effective_options(console.store, console.bootstrap, tenant)
        changes = changes_from(form, options, keys)
        actor = f"console:{console.session(request).user.name}"
        try:
            save_options(console.store, console.bootstrap, tenant, changes, actor)
        except OptionsRefused as exc:
            return _page(request, tenant, status=400, submitted=form, errors=exc.errors)
        log.info("console setup saved", tenant=tenant, user=actor, step=step, keys=sorted(changes))
        return RedirectResponse(f"/companies/{tenant}/setup?done=saved_ok#{step}", status_code=303)

    async def save_bling(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_save, request, form, BLING_KEYS, "bling")

    async def save_auvo(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_save, request, form, AUVO_KEYS, "auvo")

    def _test_auvo(request: Request, form: Form) -> Response:
        tenant = _known(request)
        if tenant is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        app = console.tenant_app(tenant)
        typed = {k: form.get(k).strip() for k in ("auvo.api_key", "auvo.api_token") if form.get(k).strip()}
        if typed:  # test what was typed before saving it
            auvo = app.settings.auvo.model_copy(
                update={
                    "api_key": SecretStr(typed["auvo.api_key"])
                    if "auvo.api_key" in typed
                    else app.settings.auvo.api_key,
                    "api_token": SecretStr(typed["auvo.api_token"])
                    if "auvo.api_token" in typed
                    else app.settings.auvo.api_token,
                }
            )
            app.close()
            app = type(app)(app.settings.model_copy(update={"auvo": auvo}), shared_store=console.store)
        try:
            outcome = run_check(app, "auvo")
        finally:
            app.close()
        verdict = connection_verdict(outcome.error_class)
        log.info("console auvo test", tenant=tenant, ok=outcome.ok, error_class=outcome.error_class)
        detail = None if outcome.ok or verdict != "auvo_unreachable" else outcome.detail
        return _page(
            request, tenant, status=200 if outcome.ok else 422, auvo_test=verdict, auvo_test_detail=detail
        )

    async def test_auvo(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_test_auvo, request, form)

    def start_authorize(request: Request) -> Response:
        tenant = _known(request)
        if tenant is None:
            return console.render(request, "message.html", status_code=404, message="not_found")
        session = console.session(request)
        state = oauth_flow.new_state()
        app = console.tenant_app(tenant, redirect_uri=callback_url(request))
        try:
            url = oauth_flow.start_url(app, state)
        except ConfigurationError as exc:
            return _page(request, tenant, status=400, authorize_error=str(exc))
        finally:
            app.close()
        data = dict(session.data)
        data[OAUTH_SESSION_KEY] = {"state": state, "tenant": tenant}
        console.store.update_console_session_data(session.id_hash, data)
        log.info("console authorize started", tenant=tenant, user=session.user.name)
        return RedirectResponse(url, status_code=303)

    def oauth_callback(request: Request) -> Response:
        session = console.session(request)
        if session.user.role != "admin":  # a GET that stores tokens: the admin's, like every change
            return console.render(request, "message.html", status_code=403, message="forbidden")
        data = dict(session.data)
        pending = data.pop(OAUTH_SESSION_KEY, None)
        console.store.update_console_session_data(session.id_hash, data)  # the state is single-use
        if not pending or not console.knows(pending.get("tenant", "")):
            return console.render(request, "message.html", status_code=400, message="state_mismatch")
        tenant = pending["tenant"]
        try:
            code = oauth_flow.code_from_callback(str(request.url), pending["state"])
        except oauth_flow.StateMismatch:
            log.warning("console authorize: state mismatch", tenant=tenant, user=session.user.name)
            return _page(request, tenant, status=400, authorize_error_key="state_mismatch")
        except IntegrationError as exc:
            return _page(request, tenant, status=400, authorize_error=scrub(str(exc)))
        app = console.tenant_app(tenant, redirect_uri=callback_url(request))
        try:
            missing = oauth_flow.complete(app, code)
            tokens = app.vault.load(PROVIDER)
        except (IntegrationError, ConfigurationError) as exc:
            hint = getattr(exc, "hint", "") or ""
            return _page(request, tenant, status=400, authorize_error=scrub(f"{exc} {hint}".strip()))
        finally:
            app.close()
        granted = list(tokens.scope) if tokens else []
        console.record_change(request, tenant, "bling.authorize", {}, {"missing_scopes": missing})
        log.info("console authorize done", tenant=tenant, user=session.user.name, missing=missing)
        covered = [g for g in REQUIRED_SCOPE_GROUPS if g not in missing_scopes(granted)] if granted else []
        return _page(request, tenant, authorized_now=True, granted=granted, covered=covered, missing=missing)

    return [
        Route("/companies/{tenant}/setup", setup, methods=["GET"], name="setup"),
        Route("/companies/{tenant}/setup/bling", save_bling, methods=["POST"], name="setup_bling"),
        Route("/companies/{tenant}/setup/auvo", save_auvo, methods=["POST"], name="setup_auvo"),
        Route("/companies/{tenant}/setup/auvo/test", test_auvo, methods=["POST"], name="setup_auvo_test"),
        Route("/companies/{tenant}/authorize", start_authorize, methods=["POST"], name="authorize"),
        Route("/oauth/callback", oauth_callback, methods=["GET"], name="oauth_callback"),
    ]
