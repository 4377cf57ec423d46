"""The gate every request passes: a live session (else the login page), the role a change needs,
and the session's CSRF token on every request that is not a read.

One ASGI middleware instead of a check in each route, so a route added later is guarded without
anyone remembering to: only the paths in PUBLIC are reachable without a session.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auvo_bling.console.forms import Form
from auvo_bling.console.i18n import translator
from auvo_bling.console.roles import may_change
from auvo_bling.console.sessions import SessionKeeper

log = structlog.get_logger("console")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_EXACT = frozenset({"/login", "/healthz"})
PUBLIC_PREFIXES = ("/static/",)
MAX_FORM_BYTES = 256 * 1024
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


class ConsoleGuard:
    def __init__(self, app: ASGIApp, keeper: SessionKeeper, language_of: Callable[[Request], str]) -> None:
        self.app = app
        self.keeper = keeper
        self.language_of = language_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the console has none: nothing may open one unguarded
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        session = await run_in_threadpool(self.keeper.load, request)
        method = scope["method"].upper()
        t = translator(self.language_of(request))
        if session is None:
            if method in SAFE_METHODS:
                target = scope["path"] + (
                    f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
                )
                await RedirectResponse(f"/login?next={quote(target)}", status_code=303)(scope, receive, send)
            else:
                await PlainTextResponse("login required", status_code=401)(scope, receive, send)
            return
        scope.setdefault("state", {})["console_session"] = session
        if method not in SAFE_METHODS:
            if not may_change(session.user.role, scope["path"]):
                log.warning("console change refused: role", user=session.user.name, path=scope["path"])
                await _refusal(t("forbidden"))(scope, receive, send)
                return
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("request too large", status_code=413)(scope, receive, send)
                return
            if not _csrf_ok(request, body, session.csrf_token):
                log.warning("console change refused: csrf", user=session.user.name, path=scope["path"])
                await _refusal(t("csrf_refused"))(scope, receive, send)
                return
            receive = _replay(body)
        await self.app(scope, receive, send)


def _refusal(text: str) -> Response:
    return PlainTextResponse(text, status_code=403)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[Message]]:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _csrf_ok(request: Request, body: bytes, expected: str) -> bool:
    submitted = request.headers.get(CSRF_HEADER, "")
    if not submitted and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        submitted = Form.parse(body).get(CSRF_FIELD)
    return bool(submitted) and secrets.compare_digest(submitted, expected)
