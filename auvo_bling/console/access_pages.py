"""Sign in, sign out, the health answer and the home redirect."""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from auvo_bling.console.context import Console
from auvo_bling.console.forms import read_form


def _safe_next(value: str | None) -> str:
    """Only a path on this console (never another site) may follow the login."""
    if not value or not value.startswith("/") or value.startswith("//") or urlparse(value).netloc:
        return "/companies"
    return value


def routes(console: Console) -> list[Route]:
    def form_page(request: Request, next_path: str, error: str | None = None, status: int = 200) -> Response:
        return console.keeper.login_page(
            request,
            lambda token: console.render(
                request, "login.html", status_code=status, error=error, next=next_path, login_csrf=token
            ),
        )

    async def login_form(request: Request) -> Response:
        return form_page(request, _safe_next(request.query_params.get("next")))

    def login(request: Request, name: str, password: str, token: str, next_path: str) -> Response:
        if not console.keeper.login_token_ok(request, token):
            return form_page(request, next_path, "login_expired", 403)
        address = request.client.host if request.client else "unknown"
        outcome = console.limiter.attempt(name, password, address)
        if outcome.throttled:
            return form_page(request, next_path, "login_throttled", 429)
        if outcome.user is None:
            return form_page(request, next_path, "login_failed", 401)
        response = RedirectResponse(next_path, status_code=303)
        console.keeper.open(request, response, outcome.user.name)
        return response

    async def login_submit(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(
            login,
            request,
            form.get("name").strip(),
            form.get("password"),
            form.get("login_csrf"),
            _safe_next(form.get("next")),
        )

    def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        console.keeper.close(request.scope["state"].get("console_session"), response)
        return response

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def home(request: Request) -> Response:
        return RedirectResponse("/companies", status_code=303)

    return [
        Route("/login", login_form, methods=["GET"], name="login"),
        Route("/login", login_submit, methods=["POST"], name="login_submit"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/", home, methods=["GET"], name="home"),
    ]
