"""Change-to-write latency: a customer created in the Auvo simulator -> its contato written in Bling's.

Two runs of the whole pipeline (receiver, pollers, consumers, both simulators over HTTP, the real
RabbitMQ, a SQLite store), one change at a time, each measured from the simulator's change to the
contato appearing in the Bling simulator:

- webhooks: the Auvo simulator posts its notification to the receiver; pollers every hour;
- polling:  no webhooks; pollers every `--poll-interval` seconds (5 by default).

A random pause (seeded; up to one poll interval in the polling run) between changes spreads them
over the poll cycle. Bounded in count and in
time (a change not written within `--timeout` seconds counts as that many seconds). Usage:

    python bench/webhook_latency.py [--changes 30] [--poll-changes 10] [--amqp-url amqp://...]
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

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.bus.topology import Topology
from infra.logging import configure_logging
from infra.settings import Settings
from producers.webhooks.receiver import create_webhook_app
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret-0123456789"
REDIRECT = "http://127.0.0.1:8765/callback"
HOOK_SECRET = "bench-hook-secret-0123456789abcdef"


@contextmanager
def pipeline(
    amqp_url: str, workdir: Path, *, webhooks: bool, poll_interval: float
) -> Iterator[AuvoState | BlingState]:
    auvo, bling = AuvoState(rate_limit_per_minute=100_000), BlingState(rate_limit_per_second=100)
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
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
        poll={"interval_seconds": poll_interval, "max_interval_seconds": poll_interval, "overlap_seconds": 5},
        webhooks={"enabled": webhooks, "auvo_secret": HOOK_SECRET, "poll_interval_seconds": 3600},
        bus={"prefix": prefix},
    )
    app = App(settings)
    authorize_headless(app)
    app.declare_topology()
    receiver = serve_in_thread(create_webhook_app(app.webhook_receiver())) if webhooks else None
    if receiver is not None:
        auvo.add_webhook("Customer", "Inclusao", f"{receiver.url}/webhooks/auvo/{HOOK_SECRET}")
    running = start(app)
    try:
        yield auvo, bling  # type: ignore[misc]
    finally:
        running.stop()
        for server in (receiver, auvo_server, bling_server):
            if server is not None:
                server.stop()
        _delete_queues(amqp_url, prefix)
        app.close()


def _delete_queues(amqp_url: str, prefix: str) -> None:
    from kombu import Connection

    topology = Topology(prefix=prefix)
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        for queue in topology.all_queues():
            try:
                channel.queue_delete(queue.name)
            except Exception:  # absent already
                channel = conn.channel()


def measure(
    auvo: AuvoState,
    bling: BlingState,
    changes: int,
    timeout: float,
    rng: random.Random,
    pause: float,
    *,
    first_document: int = 10_000_000_000,
) -> list[float]:
    """Latency of each change; a pause of uniform(0, `pause`) s first, so the changes fall at random
    points of the poll cycle (a fixed pause would keep them at one phase of it). Each change is a
    new customer whose CPF/CNPJ counts up from `first_document`."""
    latencies = []
    time.sleep(1.0)  # let the pollers' first pass (the backfill of nothing) go by
    for i in range(changes):
        time.sleep(rng.uniform(0.0, pause))
        started = time.perf_counter()
        customer = auvo.add_customer(f"Cliente de bancada {i}", cpfCnpj=f"{first_document + i}")
        marker = f"AUVO-{customer['id']}"
        while time.perf_counter() - started < timeout:
            with bling.lock:
                if any(c.get("codigo") == marker for c in bling.contacts.values()):
                    break
            time.sleep(0.005)
        latencies.append(time.perf_counter() - started)
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=30, help="changes measured with webhooks")
    parser.add_argument("--poll-changes", type=int, default=10, help="changes measured with polling only")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=20.0, help="per change")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    )
    args = parser.parse_args()
    configure_logging("console", "error")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, count, hooks in (("webhooks", args.changes, True), ("polling", args.poll_changes, False)):
            with pipeline(args.amqp_url, Path(tmp), webhooks=hooks, poll_interval=args.poll_interval) as (
                auvo,
                bling,
            ):
                pause = 1.0 if hooks else args.poll_interval
                results[mode] = measure(auvo, bling, count, args.timeout, random.Random(args.seed), pause)
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu, CPython {platform.python_version()}")
    print(f"{'mode':<34} {'n':>4} {'p50 s':>8} {'p95 s':>8} {'max s':>8}")
    for mode, values in results.items():
        label = (
            "webhooks (pollers every 3600 s)"
            if mode == "webhooks"
            else f"polling every {args.poll_interval:g} s"
        )
        print(
            f"{label:<34} {len(values):>4} {statistics.median(values):>8.3f} "
            f"{percentile(values, 95):>8.3f} {max(values):>8.3f}"
        )


if __name__ == "__main__":
    main()
