"""Throughput under the Bling limit with 1, 2 and 4 consumer processes.

The Bling simulator enforces its per-account limit (`--limit` req/s; Bling's real one is 3, a
higher simulated rate keeps the run short) and the consumers share one rate-limit bucket through
the database. For each process count it prints the Bling request rate achieved while the
customers were being written, as a fraction of the allowed rate, and how many 429s the consumers
met. Uses the local RabbitMQ; stops by itself.

    python bench/rate_limit_scaling.py [--customers 150] [--limit 10] [--processes 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kombu import Connection

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from infra.bus.topology import Topology
from infra.logging import configure_logging
from infra.settings import Settings
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.seed import seed_auvo_customers
from simulators.server import serve_in_thread

CLIENT_ID, SECRET, REDIRECT = "bench-client", "bench-secret-0123456789", "http://127.0.0.1:8765/callback"


def run_once(processes: int, customers: int, limit: int, amqp_url: str) -> tuple[float, int, float]:
    auvo, bling = AuvoState(rate_limit_per_minute=60_000), BlingState(rate_limit_per_second=limit)
    bling.register_app(CLIENT_ID, SECRET, REDIRECT)
    seed_auvo_customers(auvo, customers, rng_seed=processes)
    auvo_server, bling_server = (
        serve_in_thread(create_auvo_app(auvo)),
        serve_in_thread(create_bling_app(bling)),
    )
    prefix = f"bench-{uuid.uuid4().hex[:6]}."
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "AMQP_URL": amqp_url,
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            "AUVO_BLING_SECRET_KEY": "bench-key",
            "AUVO_BLING_BUS__PREFIX": prefix,
            "AUVO_BLING_BUS__RETRY_DELAYS_SECONDS": "[0.5, 1, 2]",
            "AUVO_BLING_BUS__MAX_ATTEMPTS": "50",
            "AUVO_BLING_AUVO__BASE_URL": f"{auvo_server.url}/v2",
            "AUVO_BLING_AUVO__API_KEY": auvo.api_key,
            "AUVO_BLING_AUVO__API_TOKEN": auvo.api_token,
            "AUVO_BLING_BLING__BASE_URL": f"{bling_server.url}/Api/v3",
            "AUVO_BLING_BLING__CLIENT_ID": CLIENT_ID,
            "AUVO_BLING_BLING__CLIENT_SECRET": SECRET,
            "AUVO_BLING_BLING__REDIRECT_URI": REDIRECT,
            "AUVO_BLING_BLING__REQUESTS_PER_SECOND": str(limit),
            "AUVO_BLING_LOG_FORMAT": "json",
        }
        settings = Settings(
            amqp_url=amqp_url,
            database_url=env["DATABASE_URL"],
            secret_key="bench-key",
            auvo={
                "base_url": env["AUVO_BLING_AUVO__BASE_URL"],
                "api_key": auvo.api_key,
                "api_token": auvo.api_token,
            },
            bling={
                "base_url": env["AUVO_BLING_BLING__BASE_URL"],
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
            },
            bus={"prefix": prefix, "retry_delays_seconds": [0.5, 1, 2], "max_attempts": 50},
        )
        app = App(settings)
        authorize_headless(app)
        app.declare_topology()
        [poller] = app.pollers(app.publisher())
        poller.poll_once()
        app.close()
        calls_before = sum(bling.calls.values())
        log = Path(tmp) / "consumers.log"
        with log.open("w") as sink:
            child = subprocess.Popen(
                [sys.executable, "-m", "auvo_bling.cli", "consume", "--processes", str(processes)],
                env=env,
                stdout=sink,
                stderr=sink,
            )
            first = last = None
            deadline = time.monotonic() + max(120.0, customers * 3 / limit * 3)
            while time.monotonic() < deadline:
                calls = sum(bling.calls.values())
                if first is None and calls > calls_before:
                    first = (time.monotonic(), calls)
                if len(bling.contacts) >= customers:
                    last = (time.monotonic(), calls)
                    break
                time.sleep(0.05)
            child.terminate()
            child.wait(60)
        text = log.read_text()
        rejected = text.count("TOO_MANY_REQUESTS")
        if last is None:
            print(text[-3000:], file=sys.stderr)
    auvo_server.stop()
    bling_server.stop()
    with Connection(amqp_url) as conn, conn.channel() as channel:
        for queue in Topology(prefix=prefix).all_queues():
            channel.queue_delete(queue.name)
    if first is None or last is None:
        raise SystemExit(f"{processes} processes: the customers did not all arrive")
    rate = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
    return rate, rejected, last[0] - first[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=150)
    parser.add_argument("--limit", type=int, default=10, help="simulated Bling requests per second")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672//")
    args = parser.parse_args()
    configure_logging("json", "error")
    print(f"{args.customers} customers to Bling per run, Bling limit {args.limit} req/s (shared bucket)")
    for n in args.processes:
        rate, rejected, seconds = run_once(n, args.customers, args.limit, args.amqp_url)
        print(
            f"{n} consumer process(es): {rate:5.2f} req/s = {rate / args.limit:.2f} of the allowed rate, "
            f"{rejected} x 429, {seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
