"""The Operação page (auvo_bling/console/operacao_*.py): processes with the stale ones marked, the
company's numbers and charts, "Retomar" for operators (CSRF, audited), the shared live snapshot."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auvo_bling.console.operacao_charts import line_chart
from auvo_bling.console.operacao_snapshot import SharedSnapshot, Snapshot
from infra.store import FlowMinute, ProcessBeat, Store
from infra.store.heartbeats import LATENCY_BOUNDS, minute_of
from tests.console_support import add_users, client_for, console_settings, csrf_of, sign_in
from tests.ops_support import config_file_is_the_truth


@pytest.fixture(autouse=True)
def _config_file_is_the_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    config_file_is_the_truth(monkeypatch)


def beat(store: Store, name: str, age_seconds: float) -> None:
    now = datetime.now(UTC)
    store.beat(
        ProcessBeat(
            name, "consume", 2, ("default",), now - timedelta(minutes=5), now - timedelta(seconds=age_seconds)
        )
    )


def test_the_page_marks_stale_processes_and_draws_the_history(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/c.sqlite3")
    add_users(store)
    beat(store, "alive:1", 1)
    beat(store, "dead:2", 60)  # 12 intervals of 5 s without a beat
    now = minute_of(datetime.now(UTC))
    buckets = (3, 1) + (0,) * (len(LATENCY_BOUNDS) - 1)
    store.add_flow_minutes(
        [FlowMinute("default", "customers.auvo_to_bling", now - timedelta(minutes=1), 4, buckets)]
    )
    try:
        client = client_for(console_settings(store.url), store)
        sign_in(client, "vera")
        page = client.get("/operacao")
        assert page.status_code == 200, page.text
        rows = dict(re.findall(r'data-process="([^"]+)">.*?data-state="(\w+)"', page.text, re.S))
        assert rows == {"alive:1": "live", "dead:2": "stale"}
        assert "sem sinal" in page.text
        assert 'data-series="customers.auvo_to_bling"' in page.text
        assert re.search(r'data-op="co/default/events_hour">4<', page.text)
        assert "memory://" in page.text  # the queues are not known on an in-memory bus, and it says so
        one = client.get("/companies/default/operacao")
        assert one.status_code == 200 and "Operação — default" in one.text
        assert client.get("/companies/nope/operacao").status_code == 404
    finally:
        store.dispose()


def test_retomar_resumes_for_operators_only_and_is_audited(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/c.sqlite3")
    add_users(store)
    store.pause_tenant("default", "AuthExpired", "the Bling token was refused", "authorize again")
    try:
        viewer = client_for(console_settings(store.url), store)
        sign_in(viewer, "vera")
        page = viewer.get("/operacao")
        assert "the Bling token was refused" in page.text and "/operacao/default/retomar" not in page.text
        refused = viewer.post("/operacao/default/retomar", data={"csrf_token": csrf_of(viewer, "/operacao")})
        assert refused.status_code == 403 and store.tenant_pause("default") is not None

        operator = client_for(console_settings(store.url), store)
        sign_in(operator, "otto")
        no_csrf = operator.post("/operacao/default/retomar", data={})
        assert no_csrf.status_code == 403 and store.tenant_pause("default") is not None
        done = operator.post("/operacao/default/retomar", data={"csrf_token": csrf_of(operator, "/operacao")})
        assert done.status_code == 200 and done.url.path == "/operacao" and "Empresa retomada." in done.text
        assert store.tenant_pause("default") is None
        [entry] = store.audit_entries(tenant="default", limit=5)
        assert (entry.actor, entry.action) == ("console:otto", "resume")
    finally:
        store.dispose()


def test_the_event_stream_sends_the_page_numbers(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/c.sqlite3")
    add_users(store)
    beat(store, "alive:1", 1)
    try:
        client = client_for(console_settings(store.url), store)
        sign_in(client, "vera")
        with client.stream("GET", "/operacao/events?company=default") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            data = next(line for line in stream.iter_lines() if line.startswith("data: "))
        payload = json.loads(data.removeprefix("data: "))
        assert payload["values"]["proc/alive:1/state"] == "live"
        assert "chart/default/events" in payload["values"] and payload["shape"]
    finally:
        store.dispose()


def _snapshot(now: datetime) -> Snapshot:
    return Snapshot(now, [], {}, {}, False)


def test_one_snapshot_serves_every_listener_within_its_interval() -> None:
    clock = [100.0]
    shared = SharedSnapshot(_snapshot, every_seconds=2.0, max_listeners=2, monotonic=lambda: clock[0])
    for _ in range(50):
        shared.view(None)
        shared.view("default")
    assert shared.computed == 1
    clock[0] += 2.0
    shared.view(None)
    assert shared.computed == 2
    assert shared.join() and shared.join() and not shared.join()  # the cap on open streams
    shared.leave()
    assert shared.join()


def test_a_chart_scales_its_points_to_the_box() -> None:
    svg = line_chart({"f": [(0.0, 0.0), (10.0, 5.0)]}, title="t", x_span=(0.0, 10.0))
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert points == ["22.0,98.0", "338.0,22.0"]
    assert "—" in line_chart({}, title="t", x_span=(0.0, 1.0))


def test_the_event_stream_ends_when_the_session_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from auvo_bling.console import operacao_pages

    store = Store(f"sqlite:///{tmp_path}/c.sqlite3")
    add_users(store)
    try:
        client = client_for(console_settings(store.url), store)
        sign_in(client, "vera")
        monkeypatch.setattr(operacao_pages, "time", SimpleNamespace(time=lambda: 4e9))  # after expiry
        with client.stream("GET", "/operacao/events") as stream:
            lines = list(stream.iter_lines())
        assert "event: expired" in lines and not any(line.startswith('data: {"values"') for line in lines)
    finally:
        store.dispose()
