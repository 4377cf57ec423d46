"""Fairness between tenants: does tenant A's bulk work delay tenant B's live changes?

One deployment serves two tenants (the real RabbitMQ; PostgreSQL from DATABASE_URL, else a SQLite
file). Tenant B gets a new customer in its Auvo every second (polling every second) and we measure
change-to-write latency (the customer created in B's Auvo -> its contato in B's Bling) in three
phases:

1. idle:     only B has work;
2. backfill: `auvo-bling backfill --tenant A` runs in its own process over A's 5,000 customers;
3. backlog:  A's poller publishes A's 5,000 customers to the bus at once and A's consumers work
             through them at A's Bling quota, in the same process as B's.

A's simulators run in their own process (`auvo-bling simulate`) at Bling's real 3 requests/s, so
their CPU is not the measured process's; B's run in this process with 10 requests/s (a change a
second costs B 2-3 Bling calls, and B's own quota is not what this measures). Prints p50/p95 per
phase and each busy phase's p95 as a multiple of the idle one (goal: <= 2x). Usage:

    python bench/tenant_fairness.py [--customers 5000] [--changes 40] [--topology shared|per_tenant]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import tomlkit
from webhook_latency import measure, percentile  # bench/ is the script's own folder

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import Running, start
from auvo_bling.tenancy import Deployment
from infra.logging import configure_logging
from infra.settings import load_settings
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret-0123456789"
REDIRECT = "http://127.0.0.1:8765/callback"


def start_simulators_of_a(customers: int, workdir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`auvo-bling simulate` in its own process; returns it and the settings it printed."""
    log = (workdir / "simulate.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auvo_bling.cli",
            "simulate",
            "--auvo-port",
            "0",
            "--bling-port",
            "0",
            "--customers",
            str(customers),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while len(env) < 7 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"the simulators of A did not start; see {workdir / 'simulate.log'}")
        if "=" in line and line.strip().startswith("AUVO_BLING_"):
            key, value = line.strip().split("=", 1)
            env[key] = value
    return proc, env


def tenant_section(env: dict[str, str]) -> dict[str, Any]:
    return {
        "auvo": {
            "base_url": env["AUVO_BLING_AUVO__BASE_URL"],
            "api_key": env["AUVO_BLING_AUVO__API_KEY"],
            "api_token": env["AUVO_BLING_AUVO__API_TOKEN"],
        },
        "bling": {
            "base_url": env["AUVO_BLING_BLING__BASE_URL"],
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "requests_per_second": 3.0,
        },
        "poll": {"interval_seconds": 1.0, "max_interval_seconds": 1.0, "overlap_seconds": 5},
    }


def measure_b(auvo: AuvoState, bling: BlingState, changes: int, timeout: float, phase: int) -> list[float]:
    """A new customer in B's Auvo every second on average (random 0-2 s gaps, seeded, so changes
    fall at every point of the 1-second poll cycle); each latency until its contato is in B's Bling."""
    first_document = 20_000_000_000 + phase * 10_000
    return measure(auvo, bling, changes, timeout, random.Random(phase), 2.0, first_document=first_document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000, help="tenant A's customers")
    parser.add_argument("--changes", type=int, default=40, help="B's changes measured per phase")
    parser.add_argument("--timeout", type=float, default=30.0, help="per change")
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument(
        "--topology",
        choices=("per_tenant", "shared"),
        default="shared",
        help="bus.topology: each tenant its own queues, or one set for all (live and bulk queues)",
    )
    args = parser.parse_args()
    configure_logging("console", "error")
    run_id = uuid.uuid4().hex[:6]
    a_name, b_name = f"a-{run_id}", f"b-{run_id}"
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
        sim_a, env_a = start_simulators_of_a(args.customers, workdir)
        auvo_b, bling_b = (
            AuvoState(rate_limit_per_minute=100_000),
            BlingState(rate_limit_per_second=10, seed=5),
        )
        bling_b.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
        servers = [serve_in_thread(create_auvo_app(auvo_b)), serve_in_thread(create_bling_app(bling_b))]
        env_b = {
            "AUVO_BLING_AUVO__BASE_URL": f"{servers[0].url}/v2",
            "AUVO_BLING_AUVO__API_KEY": auvo_b.api_key,
            "AUVO_BLING_AUVO__API_TOKEN": auvo_b.api_token,
            "AUVO_BLING_BLING__BASE_URL": f"{servers[1].url}/Api/v3",
        }
        section_b = tenant_section(env_b)
        section_b["bling"]["requests_per_second"] = 10.0
        values: dict[str, Any] = {
            "AMQP_URL": args.amqp_url,  # the settings' names for these two are their variables'
            "DATABASE_URL": database_url,
            "secret_key": "bench-secret-key",
            "tenant_enabled": False,
            "bus": {
                "prefix": f"bench-{run_id}.",
                "retry_delays_seconds": [1, 5, 30],
                "topology": args.topology,
            },
            "tenants": {a_name: tenant_section(env_a), b_name: section_b},
        }
        config = workdir / "tenants.toml"
        config.write_text(tomlkit.dumps(values), encoding="utf-8")
        settings = load_settings(config)
        deployment = Deployment.of(settings)
        running: Running | None = None
        backfill: subprocess.Popen[bytes] | None = None
        try:
            for app in deployment.apps:
                authorize_headless(app)
            b_only = [deployment.app(b_name)]

            print("phase 1: idle (only B has work)", flush=True)
            running = start(b_only)
            time.sleep(2)
            results["idle"] = measure_b(auvo_b, bling_b, args.changes, args.timeout, 1)
            running.stop()

            print(f"phase 2: A's backfill of {args.customers} customers in its own process", flush=True)
            running = start(b_only)
            backfill = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "auvo_bling.cli",
                    "backfill",
                    "--tenant",
                    a_name,
                    "-c",
                    str(config),
                    "--quiet",
                    "--max-email-reads",
                    "0",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(workdir / "backfill.log").open("w"),
                env={
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith("AUVO_BLING_") and k not in ("AMQP_URL", "DATABASE_URL")
                },
            )
            time.sleep(2)
            results["A backfilling"] = measure_b(auvo_b, bling_b, args.changes, args.timeout, 2)
            backfill_alive = backfill.poll() is None
            backfill.send_signal(signal.SIGINT)
            backfill.wait(60)
            backfill = None
            running.stop()
            a_links = len(deployment.store.id_pairs(a_name, "customer"))
            print(f"  A's backfill was {'still running' if backfill_alive else 'OVER'}; A's links: {a_links}")

            print("phase 3: A's customers all on the bus at once, A and B in one process", flush=True)
            running = start(deployment.apps)
            time.sleep(2)
            results["A backlog on the bus"] = measure_b(auvo_b, bling_b, args.changes, args.timeout, 3)
            running.stop()
            a_links_after = len(deployment.store.id_pairs(a_name, "customer"))
            print(f"  A's consumers linked {a_links_after - a_links} more during the phase")
        finally:
            if backfill is not None:
                backfill.kill()
            if running is not None:
                running.stop()
            _delete_queues(deployment)
            deployment.close()
            for server in servers:
                server.stop()
            sim_a.send_signal(signal.SIGINT)
            sim_a.wait(30)

    idle_p95 = percentile(results["idle"], 95)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpu, CPython {platform.python_version()}, "
        f"store {'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'}, "
        f"bus.topology {args.topology}"
    )
    print(f"{'phase':<22} {'n':>4} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'p95 / idle p95':>15}")
    for phase, values in results.items():
        p95 = percentile(values, 95)
        print(
            f"{phase:<22} {len(values):>4} {statistics.median(values):>7.3f} {p95:>7.3f} "
            f"{max(values):>7.3f} {p95 / idle_p95:>15.2f}"
        )


def _delete_queues(deployment: Deployment) -> None:
    from kombu import Connection

    with Connection(deployment.settings.amqp_url) as conn:
        channel = conn.channel()
        for app in deployment.apps:
            for queue in app.topology.all_queues():
                try:
                    channel.queue_delete(queue.name)
                except Exception:  # absent already
                    channel = conn.channel()
            for exchange in (app.topology.events_exchange.name, app.topology.dlx.name):
                try:
                    channel.exchange_delete(exchange)
                except Exception:
                    channel = conn.channel()


if __name__ == "__main__":
    main()
