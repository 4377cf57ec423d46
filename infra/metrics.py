"""Prometheus metrics and the small HTTP endpoint that serves them (plus health and readiness).

The bus runner and the publisher increment these counters themselves, so every process that
handles or publishes is instrumented without the handlers knowing. Serving them is opt-in:
`start_metrics_server(port)` binds to localhost by default, because the endpoint is for the
scraper on the same host (or a sidecar), not for the internet; in a container it must bind
0.0.0.0 (`--metrics-host`, `metrics_host`) for a published port to reach it.

Why wsgiref and not the uvicorn/Starlette stack of `webhooks serve`: no process runs both (run,
produce and consume serve only this; `webhooks serve` and `authorize` serve only theirs), and three
GET routes over prometheus_client's own WSGI app need no event loop thread in every consumer.

Metric names are prefixed `auvo_bling_`; labels stay low-cardinality (consumer queue, outcome,
error class, event type, poller) — never an entity or event id.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app

from infra.health import Report

HANDLED = Counter(
    "auvo_bling_messages_handled",
    "Messages a consumer handled successfully, by outcome (created, updated, skipped_duplicate, ...).",
    ["consumer", "outcome"],
)
RETRIED = Counter(
    "auvo_bling_retries",
    "Messages sent to a delay queue after a transient failure.",
    ["consumer", "error_class"],
)
DEAD_LETTERED = Counter(
    "auvo_bling_dead_letters",
    "Messages the runner dead-lettered, by the class of the error that sent them there.",
    ["consumer", "error_class"],
)
CRASHED = Counter(
    "auvo_bling_consumer_crashes",
    "Handlers that ended with a non-Exception (SystemExit, KeyboardInterrupt...): the message was "
    "rejected so the broker's delivery limit counts it.",
    ["consumer"],
)
HANDLER_SECONDS = Histogram(
    "auvo_bling_handler_seconds",
    "Time from receiving a message to its broker action (ack, retry or dead letter).",
    ["consumer"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BROKER_FAILOVER_SECONDS = Histogram(
    "auvo_bling_broker_failover_seconds",
    "Time from losing the broker connection to working again (a publish confirmed, consuming on a "
    "node), by side: what a node's loss costs.",
    ["side"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
)
PUBLISHED = Counter(
    "auvo_bling_events_published",
    "Events published to the events exchange (after the broker's confirm), by event type.",
    ["event_type"],
)
POLLER_PUBLISHED = Counter(
    "auvo_bling_poller_events_published",
    "Events a poller published, by poller.",
    ["poller"],
)
TENANT_PAUSED = Gauge(
    "auvo_bling_tenant_paused",
    "1 while a tenant is paused because its account broke (API deactivated, authorization revoked).",
    ["tenant"],
)

BLING_CALLS_TODAY = Gauge(
    "auvo_bling_bling_calls_today",
    "Bling calls this tenant made since midnight Brasília (every process), counted in the store.",
    ["tenant"],
)
BLING_DAILY_BUDGET = Gauge(
    "auvo_bling_bling_daily_budget",
    "This integration's share of the account's daily Bling quota (bling.daily_budget_share).",
    ["tenant"],
)
BLING_BUDGET_REMAINING = Gauge(
    "auvo_bling_bling_daily_budget_remaining",
    "Bling calls left today within the budget (polls and backfills stop at the write reserve).",
    ["tenant"],
)
BLING_CALLS_PROJECTED = Gauge(
    "auvo_bling_bling_calls_projected",
    "Bling calls by the end of the Bling day if the pace since midnight holds.",
    ["tenant"],
)

WEBHOOK_NOTIFICATIONS = Counter(
    "auvo_bling_webhook_notifications",
    "Notifications the webhook receiver answered, by provider and HTTP status.",
    ["provider", "status"],
)


def observe_poll(poller: str, published: int) -> None:
    """Hook for the poll loop: count what one pass published."""
    if published:
        POLLER_PUBLISHED.labels(poller=poller).inc(published)


def observe_budget(tenant: str, used: int, budget: int, remaining: int, projected: int) -> None:
    """Hook for the quota watch: the tenant's daily Bling budget (infra.quota.BudgetView)."""
    BLING_CALLS_TODAY.labels(tenant=tenant).set(used)
    BLING_DAILY_BUDGET.labels(tenant=tenant).set(budget)
    BLING_BUDGET_REMAINING.labels(tenant=tenant).set(remaining)
    BLING_CALLS_PROJECTED.labels(tenant=tenant).set(projected)


@dataclass
class MetricsServer:
    """A running endpoint; `port` is the bound port (useful when started with port 0)."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes every 15 s would flood stderr
        pass


def metrics_app(
    ready: Callable[[], Report] | None = None, registry: CollectorRegistry = REGISTRY
) -> Callable[..., Iterable[bytes]]:
    """WSGI app: /metrics (Prometheus), /healthz (the process answers), /readyz (`ready()` has no
    reason not to be ready: 200 "ready", else 503 with one reason a line)."""
    prometheus = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            try:
                report = ready() if ready is not None else Report()
            except Exception as exc:  # a probe must answer, and a check that cannot run is not "ready"
                report = Report((f"readiness check failed ({type(exc).__name__})",))
            status = "200 OK" if report.ready else "503 Service Unavailable"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [report.body().encode()]
        return prometheus(environ, start_response)

    return app


def start_metrics_server(
    port: int, host: str = "127.0.0.1", *, ready: Callable[[], Report] | None = None
) -> MetricsServer:
    """Serve /metrics, /healthz and /readyz on `host:port` in a daemon thread."""
    server = make_server(
        host, port, metrics_app(ready), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return MetricsServer(host, server.server_port, server, thread)
