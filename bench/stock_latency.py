"""Stock-movement-to-Auvo latency and Bling cost of the catalogue flow (`catalog.bling_to_auvo`).

The whole pipeline (receiver, pollers, consumers, both simulators over HTTP, the real RabbitMQ, a
SQLite store) with a Bling catalogue of `--produtos` produtos already in Auvo; then one stock movement
at a time, measured from the Bling simulator's movement to the Auvo product's `totalStock`:

- webhooks: Bling's `stock.updated` reaches the receiver, which reads the produto once and publishes;
  pollers every hour;
- polling:  no webhooks; the poller every `--poll-interval` s, sweeping the catalogue on every pass
  (`stock_sweep_seconds = 0`: a movement leaves `dataAlteracao` alone, only a sweep sees it).

It also prints what that costs Bling: requests per movement (webhooks) and per pass (polling).
Usage:

    python bench/stock_latency.py [--produtos 200] [--changes 30] [--poll-changes 10] [--amqp-url ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from webhook_latency import _delete_queues, percentile  # bench/ is the script's own folder

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.logging import configure_logging
from infra.settings import Settings
from producers.webhooks.receiver import create_webhook_app
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret-0123456789"
REDIRECT = "http://127.0.0.1:8765/callback"


@contextmanager
def pipeline(
    amqp_url: str, workdir: Path, produtos: int, *, webhooks: bool, poll_interval: float
) -> Iterator[tuple[AuvoState, BlingState, list[int]]]:
    auvo, bling = AuvoState(rate_limit_per_minute=100_000), BlingState(rate_limit_per_second=100)
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    ids = [
        int(
            bling.add_record(
                "produtos",
                {
                    "nome": f"Peça {i}",
                    "codigo": f"P-{i}",
                    "preco": 10.0,
                    "tipo": "P",
                    "situacao": "A",
                    "formato": "S",
                    "estoque": {"saldoVirtualTotal": 1.0},
                },
            )["id"]
        )
        for i in range(produtos)
    ]
    auvo_server, bling_server = (
        serve_in_thread(create_auvo_app(auvo)),
        serve_in_thread(create_bling_app(bling)),
    )
    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    settings = Settings(
        amqp_url=amqp_url,
        database_url=f"sqlite:///{workdir / f'{prefix}sqlite3'}",
        secret_key="bench-secret-key",
        auvo={
            "base_url": f"{auvo_server.url}/v2",
            "api_key": auvo.api_key,
            "api_token": auvo.api_token,
            "requests_per_minute": 100_000,
        },
        bling={
            "base_url": f"{bling_server.url}/Api/v3",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "requests_per_second": 100,
        },
        customers={"direction": "auvo_to_bling"},
        catalog={"bling_to_auvo": True, "stock_sweep_seconds": 3600 if webhooks else 0},
        poll={
            "interval_seconds": 3600 if webhooks else poll_interval,
            "max_interval_seconds": 3600 if webhooks else poll_interval,
            "overlap_seconds": 5,
        },
        webhooks={"enabled": webhooks, "poll_interval_seconds": 3600},
        bus={"prefix": prefix},
    )
    app = App(settings)
    authorize_headless(app)
    app.declare_topology()
    receiver = serve_in_thread(create_webhook_app(app.webhook_receiver())) if webhooks else None
    if receiver is not None:
        bling.configure_webhooks(f"{receiver.url}/webhooks/bling", CLIENT_ID)
    running = start(app)
    try:
        deadline = time.monotonic() + 120
        while len(auvo.records["products"]) < produtos and time.monotonic() < deadline:
            time.sleep(0.1)
        yield auvo, bling, ids
    finally:
        running.stop()
        for server in (receiver, auvo_server, bling_server):
            if server is not None:
                server.stop()
        _delete_queues(amqp_url, prefix)
        app.close()


def measure(
    auvo: AuvoState, bling: BlingState, ids: list[int], changes: int, timeout: float, pause: float, seed: int
) -> tuple[list[float], float]:
    """Latencies, and the Bling product requests per movement while they were measured."""
    rng = random.Random(seed)
    by_bling = {p["externalId"]: p for p in auvo.records["products"].values()}
    reads_before = sum(n for (method, resource), n in bling.calls.items() if resource == "produtos")
    latencies = []
    for i in range(changes):
        time.sleep(rng.uniform(0.0, pause))
        produto_id = rng.choice(ids)
        balance = 100 + i
        started = time.perf_counter()
        bling.move_stock(produto_id, balance)
        product = by_bling[str(produto_id)]
        while time.perf_counter() - started < timeout:
            with auvo.lock:
                if auvo.records["products"][product["productId"]]["totalStock"] == balance:
                    break
            time.sleep(0.005)
        latencies.append(time.perf_counter() - started)
    reads = sum(n for (method, resource), n in bling.calls.items() if resource == "produtos") - reads_before
    return latencies, reads / changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--produtos", type=int, default=200)
    parser.add_argument("--changes", type=int, default=30, help="movements measured with webhooks")
    parser.add_argument("--poll-changes", type=int, default=10, help="movements measured with polling only")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=20.0, help="per movement")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    )
    args = parser.parse_args()
    configure_logging("console", "error")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for hooks, count in ((True, args.changes), (False, args.poll_changes)):
            with pipeline(
                args.amqp_url, Path(tmp), args.produtos, webhooks=hooks, poll_interval=args.poll_interval
            ) as (auvo, bling, ids):
                pause = 0.5 if hooks else args.poll_interval
                latencies, cost = measure(auvo, bling, ids, count, args.timeout, pause, args.seed)
                rows.append((hooks, latencies, cost))
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, CPython {platform.python_version()}")
    print(f"produtos in the catalogue: {args.produtos}")
    print(f"{'mode':<40} {'n':>4} {'p50 s':>8} {'p95 s':>8} {'max s':>8} {'Bling req/movement':>19}")
    for hooks, values, cost in rows:
        label = (
            "webhooks (pollers every 3600 s)" if hooks else f"polling, sweep every {args.poll_interval:g} s"
        )
        print(
            f"{label:<40} {len(values):>4} {statistics.median(values):>8.3f} "
            f"{percentile(values, 95):>8.3f} {max(values):>8.3f} {cost:>19.2f}"
        )


if __name__ == "__main__":
    main()
