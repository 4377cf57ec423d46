"""The webhook receiver: an ASGI app (Starlette, served by uvicorn) with one route per provider.

    POST /webhooks/bling            signed by Bling (X-Bling-Signature-256)
    POST /webhooks/auvo/{secret}    the URL registered in Auvo carries the secret
    GET  /healthz                   liveness, for the load balancer

Every request goes through the same gate, cheapest checks first, and nothing is published or
stored until all of them passed:

    size (413) -> authenticity (401) -> JSON (400) -> shape (400) -> replay window (409)

Answers: 200 with a small JSON summary once the events were confirmed by the broker (Auvo) or the
id map was committed (Bling); 503 when the broker, the store or the Auvo API failed, so the sender
retries (Bling retries for up to 3 days, and the pollers are the safety net either way). Reasons in
answers and logs never contain the secret, the signature or the body.

The blocking work (Auvo reads, the publisher's confirm, the store) runs in Starlette's thread
pool, so a slow confirm never stops the server from accepting the next notification.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts.envelope import Envelope
from infra import metrics
from infra.errors import IntegrationError
from infra.logging import scrub
from infra.store import Store
from producers.polling import EventPublisher, RecentlyPublished, publish_new
from producers.webhooks.auvo_notifications import AuvoEvents, parse_auvo_notification
from producers.webhooks.bling_catalog_notifications import BlingCatalogEvents
from producers.webhooks.bling_notifications import BlingIdMapKeeper, parse_bling_notification, stream_of
from producers.webhooks.bling_order_outcomes import BlingOrderOutcomeEvents
from producers.webhooks.verification import (
    SIGNATURE_HEADER,
    NotificationRejected,
    check_fresh,
    check_size,
    parse_json_object,
    parse_notification_date,
    verify_bling_signature,
    verify_url_secret,
)

log = structlog.get_logger("webhooks")

WEBHOOK = "webhook"  # the "heard from" channel


@dataclass
class WebhookReceiver:
    """Everything the two routes need; built by `auvo_bling.wiring.App.webhook_receiver`."""

    publisher: EventPublisher
    store: Store
    auvo_events: AuvoEvents
    bling_keeper: BlingIdMapKeeper
    bling_client_secret: str = field(repr=False)
    auvo_secret: str = field(repr=False)
    tenant: str = "default"
    bling_outcomes: BlingOrderOutcomeEvents | None = None  # when the job outcome flow is on
    max_body_bytes: int = 256 * 1024
    replay_window: timedelta = timedelta(hours=24)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    recent: RecentlyPublished = field(default_factory=RecentlyPublished)
    bling_catalog: BlingCatalogEvents | None = None  # with `catalog.bling_to_auvo`

    # --- Auvo ---------------------------------------------------------------------------------

    def handle_auvo(self, secret: str, raw: bytes) -> dict[str, Any]:
        """Verify, parse, build the pollers' events and publish them with confirms."""
        verify_url_secret(secret, self.auvo_secret)
        notification = parse_auvo_notification(parse_json_object(raw))
        check_fresh(parse_notification_date(notification.date), self.clock(), self.replay_window)
        # the events first: building them may still refuse the notification (400), and a refused
        # notification leaves the store as it was
        envelopes = self.auvo_events.events(notification)
        if notification.stream is not None:
            self.store.note_heard(self.tenant, notification.stream, WEBHOOK)
        published = sum(publish_new(self.publisher, self.recent, e) for e in envelopes)
        return {"events": len(envelopes), "published": published}

    # --- Bling --------------------------------------------------------------------------------

    def handle_bling(self, signature: str | None, raw: bytes) -> dict[str, Any]:
        """Verify, parse and keep the id map true (one store transaction); with the job outcome flow
        on, a pedido's or nota's outcome is published too (confirmed before the answer)."""
        verify_bling_signature(raw, signature, self.bling_client_secret)
        body = parse_json_object(raw)
        notification = parse_bling_notification(body)
        check_fresh(parse_notification_date(notification.date), self.clock(), self.replay_window)
        self.store.note_heard(self.tenant, stream_of(notification), WEBHOOK)
        result = self.bling_keeper.apply(notification)
        answer: dict[str, Any] = {"event": notification.event, "result": result}
        envelopes: list[Envelope] = []
        if self.bling_catalog is not None:  # produto / stock -> the catalogue flow's event
            envelopes += self.bling_catalog.events(notification, body.get("data"))
        if self.bling_outcomes is not None:  # pedido / nota fiscal -> the job outcome flow's event
            envelopes += self.bling_outcomes.events(notification, self.clock())
        if self.bling_catalog is not None or self.bling_outcomes is not None:
            answer["published"] = sum(publish_new(self.publisher, self.recent, e) for e in envelopes)
        return answer


def create_webhook_app(receiver: WebhookReceiver) -> Starlette:
    """The ASGI app serving `receiver`'s two routes and a health check."""

    async def auvo(request: Request) -> Response:
        secret = str(request.path_params["secret"])
        return await _answer("auvo", request, receiver.max_body_bytes, receiver.handle_auvo, secret)

    async def bling(request: Request) -> Response:
        signature = request.headers.get(SIGNATURE_HEADER)
        return await _answer("bling", request, receiver.max_body_bytes, receiver.handle_bling, signature)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/webhooks/auvo/{secret}", auvo, methods=["POST"]),
            Route("/webhooks/bling", bling, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


async def _answer(
    provider: str, request: Request, max_bytes: int, handle: Callable[[Any, bytes], dict[str, Any]], key: Any
) -> Response:
    """Read the body within the limit, run the handler off the event loop, map failures to HTTP."""
    try:
        raw = await _read_limited(request, max_bytes)
        result = await run_in_threadpool(handle, key, raw)
        status, body = 200, {"ok": True, **result}
    except NotificationRejected as exc:
        status, body = exc.status, {"ok": False, "error": exc.reason}
        log.warning("webhook rejected", provider=provider, status=status, reason=exc.reason)
    except IntegrationError as exc:
        status, body = 503, {"ok": False, "error": "temporarily unable to process; retry"}
        log.warning("webhook not processed; sender will retry", provider=provider, **exc.diagnosis())
    except Exception as exc:  # broker or store down: the sender must retry
        status, body = 503, {"ok": False, "error": "temporarily unable to process; retry"}
        log.error(
            "webhook not processed; sender will retry",
            provider=provider,
            error_class=type(exc).__name__,
            error=scrub(str(exc)),
        )
    metrics.WEBHOOK_NOTIFICATIONS.labels(provider=provider, status=str(status)).inc()
    return JSONResponse(body, status_code=status)


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `max_bytes` (declared or streamed)."""
    check_size(request.headers.get("content-length"), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise NotificationRejected(413, f"body is over the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
