"""Company options applied without a restart: how long, and what the watching costs, in one run.

Runs the producers and consumers of one tenant in process (embedded bus by default, SQLite or
`--database-url`, both simulators), then saves `--saves` option changes that alternate between a
poller-only option ("Status das tarefas", only the poll loops restart) and one the consumers
read ("Padrão de integração de clientes", consumers restart too), and prints:

- save -> applied by the running process (the revision recorded with host:pid): median and max,
- the watcher's database reads per second while idle (one indexed row per read),
- against the poll interval: the issue asks for "within one poll interval".

Usage:

    python bench/options_apply.py [--saves 10] [--poll-interval 5] [--amqp-url memory://]
                                  [--database-url sqlite:///...]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from auvo_bling.authorize import authorize_headless
from auvo_bling.company_options import options_applied, save_options
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.logging import configure_logging
from infra.settings import Settings
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread

CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-client-secret-0123456789"
REDIRECT = "http://127.0.0.1:8765/callback"
CHANGES = (
    {"tasks.status": "not_finished"},
    {"customers.direction": "both"},
    {"tasks.status": "all"},
    {"customers.direction": "auvo_to_bling"},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=10)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--amqp-url", default="memory://")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    configure_logging("console", "warning")

    auvo, bling = AuvoState(rate_limit_per_minute=100_000), BlingState(rate_limit_per_second=100)
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    auvo_server, bling_server = (
        serve_in_thread(create_auvo_app(auvo)),
        serve_in_thread(create_bling_app(bling)),
    )
    workdir = Path(tempfile.mkdtemp(prefix="options-bench-"))
    bootstrap = Settings(
        amqp_url=args.amqp_url,
        database_url=args.database_url or f"sqlite:///{workdir / 'store.sqlite3'}",
        secret_key="bench-secret-key",
        auvo={"base_url": f"{auvo_server.url}/v2", "api_key": auvo.api_key, "api_token": auvo.api_token},
        bling={
            "base_url": f"{bling_server.url}/Api/v3",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "requests_per_second": 100,
        },
        poll={"interval_seconds": args.poll_interval},
        bus={"prefix": f"bench-{uuid.uuid4().hex[:6]}."},
    )
    app = App(bootstrap.for_tenant(), bootstrap=bootstrap)
    authorize_headless(app)
    reads = {"n": 0}
    real_read = app.store.options_revision

    def counted(tenant: str):  # type: ignore[no-untyped-def]
        reads["n"] += 1
        return real_read(tenant)

    app.store.options_revision = counted  # type: ignore[method-assign]
    running = start(app)
    latencies: list[float] = []
    try:
        time.sleep(2.0)
        before, idle_started = reads["n"], time.monotonic()
        time.sleep(5.0)
        idle_reads = (reads["n"] - before) / (time.monotonic() - idle_started)
        for i in range(args.saves):
            saved = save_options(app.store, bootstrap, "default", dict(CHANGES[i % len(CHANGES)]), "bench")
            deadline = time.monotonic() + 60
            while options_applied(app.store, "default").revision_applied != saved.revision:
                if time.monotonic() > deadline:
                    raise SystemExit(f"revision {saved.revision} not applied within 60 s")
                time.sleep(0.02)
            state = options_applied(app.store, "default")
            assert state.applied_at is not None and saved.saved_at is not None
            latencies.append((state.applied_at - saved.saved_at).total_seconds())
    finally:
        running.stop()
        app.close()
        auvo_server.stop()
        bling_server.stop()

    print(f"machine: {platform.machine()} {platform.python_version()}; broker {args.amqp_url}")
    print(f"saves: {len(latencies)} (alternating poller-only and consumer-affecting options)")
    print(
        f"save -> applied: median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s "
        f"(poll interval {args.poll_interval:.1f} s)"
    )
    print(f"watcher reads while idle: {idle_reads:.2f}/s per tenant and process")


if __name__ == "__main__":
    main()
