"""The Operação page's live numbers: what N open pages cost the console, measured in one run.

Serves the console (uvicorn, in this process) over a store with a few processes' heartbeats and an
hour of flow history, signs in, opens N event streams (`/operacao/events`) for a fixed time and
counts, per second: snapshots computed, SQL statements the console ran, events sent, and the
process's CPU seconds (server and the N readers together, so an upper bound). Run with N=1 and N
pages; the ratios say whether the cost grows with the pages (it should not: one shared snapshot).

Usage:

    python bench/operacao_sse_cost.py [--pages 20] [--seconds 8] [--live-seconds 1]
                                      [--database-url sqlite:///...]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from auvo_bling.console.app import create_console_app
from infra.store import FlowMinute, ProcessBeat, Store
from infra.store.heartbeats import LATENCY_BOUNDS, minute_of
from simulators.server import serve_in_thread
from tests.console_support import PASSWORDS, add_users, console_settings


def seed(store: Store) -> None:
    now = datetime.now(UTC)
    for i in range(4):
        store.beat(ProcessBeat(f"host:{i}", "consume", 2, ("default",), now, now - timedelta(seconds=i * 10)))
    buckets = (5, 3, 1) + (0,) * (len(LATENCY_BOUNDS) - 2)
    store.add_flow_minutes(
        [
            FlowMinute("default", flow, minute_of(now) - timedelta(minutes=m), 9, buckets)
            for m in range(60)
            for flow in ("customers.auvo_to_bling", "tasks.auvo_to_bling_orders")
        ]
    )


def measure(url: str, store: Store, app: Any, pages: int, seconds: float) -> dict[str, float]:
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(store.engine, "before_cursor_execute", count)
    shared = app.state.operacao_shared
    computed_before = shared.computed
    sent = [0]
    stop = threading.Event()

    # one sign-in shared by every reader: a password check (argon2) per page would be what is measured
    with httpx.Client(base_url=url, timeout=30) as login_client:
        login = login_client.get("/login").text
        token = re.search(r'name="login_csrf" value="([^"]+)"', login).group(1)
        login_client.post("/login", data={"name": "vera", "password": PASSWORDS["vera"], "login_csrf": token})
        cookies = dict(login_client.cookies)

    def reader() -> None:
        with (
            httpx.Client(base_url=url, timeout=30, cookies=cookies) as client,
            client.stream("GET", "/operacao/events") as stream,
        ):
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    sent[0] += 1
                if stop.is_set():
                    return

    threads = [threading.Thread(target=reader, daemon=True) for _ in range(pages)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # signed in and streaming
    statements[0], sent[0], computed_before = 0, 0, shared.computed
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    stop.set()
    result = {
        "snapshots_per_s": (shared.computed - computed_before) / wall,
        "statements_per_s": statements[0] / wall,
        "events_per_s": sent[0] / wall,
        "cpu_s_per_s": cpu / wall,
    }
    event.remove(store.engine, "before_cursor_execute", count)
    for t in threads:
        t.join(5)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--live-seconds", type=float, default=1.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    store = Store(url)
    add_users(store)
    seed(store)
    settings = console_settings(
        url, console={"live_seconds": args.live_seconds, "live_max_streams": args.pages + 1}
    )
    app = create_console_app(settings, store)
    server = serve_in_thread(app)
    try:
        one = measure(server.url, store, app, 1, args.seconds)
        many = measure(server.url, store, app, args.pages, args.seconds)
    finally:
        server.stop()
        store.dispose()
    print(f"python {platform.python_version()} on {platform.machine()}, {store.engine.dialect.name}")
    print(f"live_seconds={args.live_seconds}, {args.seconds:g} s per run")
    for key in one:
        ratio = many[key] / one[key] if one[key] else float("nan")
        print(f"{key:<18} 1 page {one[key]:8.2f}   {args.pages} pages {many[key]:8.2f}   ratio {ratio:5.2f}")


if __name__ == "__main__":
    main()
