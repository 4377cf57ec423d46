"""The Operação page: pollers, queues, processes, token, quota, last writes and charts, live.

`/operacao` shows the whole deployment, `/companies/{t}/operacao` one company; `/operacao/events`
streams the same numbers (server-sent events) from one snapshot shared by every open page.
"Retomar" lifts a company's pause with the same function as `auvo-bling tenants resume`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from auvo_bling import tenants_cli
from auvo_bling.console.context import Console
from auvo_bling.console.operacao_snapshot import SharedSnapshot, Snapshot, collect

log = structlog.get_logger("console")

HEARTBEAT_COMMENT = ": ping\n\n"


def shared_snapshot(console: Console) -> SharedSnapshot:
    settings = console.bootstrap

    def compute(now: Any) -> Snapshot:
        return collect(
            console,
            console.bootstrap.tenant_names(),
            now,
            settings.heartbeat_seconds,
            settings.heartbeat_stale_after,
        )

    return SharedSnapshot(
        compute,
        every_seconds=settings.console.live_seconds,
        max_listeners=settings.console.live_max_streams,
    )


def routes(console: Console, shared: SharedSnapshot | None = None) -> list[Route]:
    shared = shared or shared_snapshot(console)

    def _page(request: Request, tenant: str | None) -> Response:
        view = shared.view(tenant)
        snapshot = shared.get()
        companies = {
            name: status for name, status in snapshot.companies.items() if tenant is None or name == tenant
        }
        processes = [p for p in snapshot.processes if tenant is None or tenant in p.beat.tenants]
        return console.render(
            request,
            "operacao.html",
            company=tenant,
            v=view["values"],
            shape=view["shape"],
            companies=companies,
            processes=processes,
            broker_known=snapshot.broker_known,
            may_resume=console.session(request).user.role in ("admin", "operator"),
        )

    def overall(request: Request) -> Response:
        return _page(request, None)

    def company(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not console.knows(tenant):
            return console.render(request, "message.html", status_code=404, message="not_found")
        return _page(request, tenant)

    async def events(request: Request) -> Response:
        tenant = request.query_params.get("company") or None
        if tenant is not None and not console.knows(tenant):
            return PlainTextResponse("unknown company", status_code=404)
        if not shared.join():
            log.warning("operacao stream refused: too many open", listeners=shared.listeners)
            return PlainTextResponse("too many live pages open", status_code=503)
        expires_at = console.session(request).expires_at
        return StreamingResponse(
            _stream(request, tenant, expires_at),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _stream(request: Request, tenant: str | None, expires_at: float) -> AsyncIterator[str]:
        sent_at = None
        try:
            yield "retry: 5000\n\n"
            while not await request.is_disconnected():
                if time.time() >= expires_at:  # the session ended: the page goes back to the login
                    yield "event: expired\ndata: {}\n\n"
                    return
                view = await run_in_threadpool(shared.view, tenant)
                if view["at"] != sent_at:
                    sent_at = view["at"]
                    data = json.dumps({"values": view["values"], "shape": view["shape"]})
                    yield f"data: {data}\n\n"
                else:
                    yield HEARTBEAT_COMMENT
                await asyncio.sleep(shared.every_seconds)
        finally:
            shared.leave()

    def resume(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if not console.knows(tenant):
            return console.render(request, "message.html", status_code=404, message="not_found")
        was, replayed, failed = tenants_cli.resume_now(console.bootstrap, tenant, store=console.store)
        console.record_change(
            request,
            tenant,
            "resume",
            {"paused": was is not None},
            {"paused": False, "replayed": replayed, "replay_failed": failed},
        )
        log.info("company resumed in the console", tenant=tenant, replayed=replayed, failed=failed)
        back = request.query_params.get("back")
        target = f"/companies/{tenant}/operacao" if back == "company" else "/operacao"
        return RedirectResponse(f"{target}?done=resumed_ok", status_code=303)

    return [
        Route("/operacao", overall, methods=["GET"], name="operacao"),
        Route("/operacao/events", events, methods=["GET"], name="operacao_events"),
        Route("/operacao/{tenant}/retomar", resume, methods=["POST"], name="operacao_resume"),
        Route("/companies/{tenant}/operacao", company, methods=["GET"], name="operacao_company"),
    ]
