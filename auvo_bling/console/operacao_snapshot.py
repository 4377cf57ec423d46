"""What the Operação page shows, gathered once and shared by every open page.

`collect` reads the store (heartbeats, flow history), the broker and each company's status (the
same `collect_status` as `auvo-bling status`, so the page and the CLI cannot disagree). `values`
turns that into the page's changing numbers, one text per key; the page renders them and the
server-sent events carry the same keys, so what the browser updates is exactly what it rendered.
`SharedSnapshot` computes it at most once per interval whoever asks: N open pages cost one pass.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from auvo_bling.console.operacao_charts import line_chart
from auvo_bling.status import collect_status
from infra.bus.publisher import is_memory_url
from infra.logging import scrub
from infra.store import FlowMinute, ProcessBeat
from infra.store.heartbeats import BLING_FLOW, minutes_back

log = structlog.get_logger("console")

HISTORY_MINUTES = 60


@dataclass(frozen=True)
class ProcessRow:
    beat: ProcessBeat
    stale: bool
    beat_age: float


@dataclass(frozen=True)
class Snapshot:
    at: datetime
    processes: list[ProcessRow]
    companies: dict[str, dict[str, Any]]  # tenant -> collect_status(...)
    history: dict[str, list[FlowMinute]]  # tenant -> the last hour's minutes
    broker_known: bool


def shape_of(shown: dict[str, str]) -> str:
    """Which rows the page has: when it changes (a process came or went) the page reloads."""
    keys = sorted(k for k in shown if not k.startswith("chart/"))
    return hashlib.sha1("\n".join(keys).encode()).hexdigest()[:12]


def collect(
    console: Any, tenants: Sequence[str], now: datetime, interval_seconds: float, stale_after: float
) -> Snapshot:
    store = console.store
    processes = [
        ProcessRow(b, b.is_stale(now, interval_seconds, stale_after), (now - b.beat_at).total_seconds())
        for b in store.process_beats()
    ]
    history: dict[str, list[FlowMinute]] = {t: [] for t in tenants}
    for minute in store.flow_minutes_since(minutes_back(now, HISTORY_MINUTES)):
        if minute.tenant in history:
            history[minute.tenant].append(minute)
    companies = {}
    for tenant in tenants:
        try:
            app = console.tenant_app(tenant)
        except Exception as exc:  # its settings do not load: the companies page says what is missing
            companies[tenant] = {"errors": {"settings": scrub(str(exc))}}
            continue
        try:
            companies[tenant] = collect_status(app, max_dlq_scan=0, now=now)
        finally:
            app.close()
    return Snapshot(now, processes, companies, history, not is_memory_url(console.bootstrap.amqp_url))


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    value = abs(value)
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def _text(value: Any) -> str:
    return "—" if value is None else str(value)


def values(snapshot: Snapshot, tenant: str | None) -> dict[str, str]:
    """The page's changing numbers by key: the whole deployment's, or one company's."""
    out: dict[str, str] = {"at": snapshot.at.isoformat(timespec="seconds")}
    for row in snapshot.processes:
        if tenant is not None and tenant not in row.beat.tenants:
            continue
        key = f"proc/{row.beat.process}"
        out[f"{key}/state"] = "stale" if row.stale else "live"
        out[f"{key}/beat"] = _seconds(row.beat_age)
        last = row.beat.last_event_at
        out[f"{key}/last"] = (
            f"{row.beat.last_flow} · {row.beat.last_event_id} · {last.isoformat(timespec='seconds')}"
            if last
            else "—"
        )
    for name, status in snapshot.companies.items():
        if tenant is not None and name != tenant:
            continue
        out.update(_company_values(name, status, snapshot))
    return out


def _company_values(name: str, status: dict[str, Any], snapshot: Snapshot) -> dict[str, str]:
    out: dict[str, str] = {}
    c = f"co/{name}"
    if status.get("paused"):  # present only while paused: the page's shape changes and it reloads
        out[f"{c}/paused"] = status["paused"]["error_class"]
    budget = status.get("bling_budget")
    if budget:
        out[f"{c}/quota/used"] = str(budget["used"])
        out[f"{c}/quota/remaining"] = str(budget["remaining"])
        out[f"{c}/quota/budget"] = str(budget["budget"])
    token = status.get("bling_token")
    if token is not None:
        out[f"{c}/token"] = _seconds(token["expires_in_seconds"]) if token["authorized"] else "—"
    for row in status.get("schedule", []):
        p = f"{c}/poller/{row['poller']}"
        out[f"{p}/interval"] = _seconds(row["interval_seconds"])
        out[f"{p}/next"] = row["next_pass_at"]
    for row in status.get("pollers", []):
        out[f"{c}/cursor/{row['cursor']}/lag"] = _seconds(row["seconds_since_advanced"])
    for row in status.get("heard", []):  # the last pass that heard the stream, by poll and by webhook
        out[f"{c}/heard/{row['stream']}/poll"] = _seconds(row["seconds_since_poll"])
        out[f"{c}/heard/{row['stream']}/webhook"] = _seconds(row["seconds_since_webhook"])
    if snapshot.broker_known:
        for row in status.get("queues", []):
            q = f"{c}/queue/{row['queue']}"
            out[f"{q}/ready"] = _text(row.get("ready"))
            out[f"{q}/unacked"] = _text(row.get("unacked"))
            out[f"{q}/consumers"] = _text(row.get("consumers"))
            rate = row.get("ack_rate")
            out[f"{q}/rate"] = "—" if rate is None else f"{rate:.1f}/s"
    for row in status.get("flows", []):
        f = f"{c}/flow/{row['flow']}"
        out[f"{f}/last_write"] = _text(row["last_write_at"])
        out[f"{f}/handled"] = str(sum(row["counters"].values()))
    history = snapshot.history.get(name, [])
    out[f"{c}/events_hour"] = str(sum(m.events for m in history if m.flow != BLING_FLOW))
    out.update({f"chart/{name}/{k}": svg for k, svg in charts(history, snapshot.at).items()})
    return out


def charts(history: list[FlowMinute], now: datetime) -> dict[str, str]:
    """Events per minute per flow, p95 latency per minute, and the Bling calls of the day."""
    x1 = now.timestamp() / 60
    span = (x1 - HISTORY_MINUTES, x1)
    events: dict[str, list[tuple[float, float]]] = {}
    latency: dict[str, list[tuple[float, float]]] = {}
    quota: dict[str, list[tuple[float, float]]] = {}
    for m in history:
        x = m.minute.timestamp() / 60
        if m.flow == BLING_FLOW:
            if m.bling_calls_day is not None:
                quota.setdefault("Bling", []).append((x, float(m.bling_calls_day)))
            continue
        events.setdefault(m.flow, []).append((x, float(m.events)))
        p95 = m.latency_quantile(0.95)
        if p95 is not None:
            latency.setdefault(m.flow, []).append((x, min(p95, 3600.0)))
    return {
        "events": line_chart(events, title="eventos/min", x_span=span),
        "latency": line_chart(latency, title="latência p95 (s)", x_span=span),
        "quota": line_chart(quota, title="chamadas Bling no dia", x_span=span),
    }


@dataclass
class SharedSnapshot:
    """One snapshot for every open page, recomputed at most once per `every_seconds`; a cap on the
    event streams open at once (each holds a connection and a task)."""

    compute: Callable[[datetime], Snapshot]
    every_seconds: float = 2.0
    max_listeners: int = 20
    monotonic: Callable[[], float] = time.monotonic
    computed: int = 0
    listeners: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: Snapshot | None = None
    _taken_at: float = float("-inf")
    _views: dict[str | None, dict[str, Any]] = field(default_factory=dict)

    def get(self) -> Snapshot:
        with self._lock:  # concurrent askers wait for the one computing instead of computing again
            if self._current is None or self.monotonic() - self._taken_at >= self.every_seconds:
                self._current = self.compute(datetime.now(UTC))
                self._taken_at = self.monotonic()
                self._views = {}
                self.computed += 1
            return self._current

    def view(self, tenant: str | None) -> dict[str, Any]:
        """The values and shape one page shows, formatted once per snapshot for all its listeners."""
        snapshot = self.get()
        with self._lock:
            view = self._views.get(tenant)
            if view is None or view["at"] != snapshot.at:
                shown = values(snapshot, tenant)
                view = {"at": snapshot.at, "values": shown, "shape": shape_of(shown)}
                self._views[tenant] = view
            return view

    def join(self) -> bool:
        with self._lock:
            if self.listeners >= self.max_listeners:
                return False
            self.listeners += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.listeners -= 1
