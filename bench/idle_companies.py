"""What an idle company costs one process serving many (issue 20): CPU per idle company.

One process (`auvo-bling run`'s pieces: the shared topology's pollers and consumers, the embedded
memory:// bus, the store of DATABASE_URL) serves `--companies` simulated companies that change
nothing, at the default poll intervals, customers `both`. The simulated fleet (simulators/fleet.py)
runs in a separate process, so the figure is the integration's alone. After `--warm` seconds
(the first passes, the intervals stretching to their bound) the process's CPU is measured over
`--window` seconds and printed as a share of one core, in all and per company; then the store's
transactions per minute per company. Usage:

    python bench/idle_companies.py [--companies 100] [--window 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import tomlkit
from many_tenants import fresh_database  # bench/ is the script's own folder
from sqlalchemy import event

from auvo_bling.runtime import start
from auvo_bling.tenancy import Deployment
from infra.logging import configure_logging
from infra.settings import load_settings

FLEET = """
import sys, time, tomlkit
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from simulators.fleet import make_fleet
from simulators.server import serve_in_thread
from many_tenants import seed_tokens
from infra.logging import configure_logging
from infra.settings import load_settings
n, config = int(sys.argv[1]), Path(sys.argv[2])
fleet = make_fleet(n, customers=0)  # nothing to sync: idle from the first pass
auvo, bling = serve_in_thread(fleet.auvo_app()), serve_in_thread(fleet.bling_app())
values = tomlkit.parse(config.read_text())
sections = fleet.tenant_sections(auvo.url, bling.url)
for section in sections.values():
    section["customers"] = {"direction": "both"}
values["tenants"] = sections
config.write_text(tomlkit.dumps(values))
configure_logging("console", "error")
seed_tokens(load_settings(config), fleet)
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100)
    parser.add_argument("--warm", type=float, default=60.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    configure_logging("console", "error")
    with tempfile.TemporaryDirectory() as tmp:
        database_url = (
            fresh_database(args.database_url, f"idle_{os.getpid()}") or f"sqlite:///{tmp}/idle.sqlite3"
        )
        config = Path(tmp) / "idle.toml"
        config.write_text(
            tomlkit.dumps(
                {
                    "amqp_url": "memory://",
                    "database_url": database_url,
                    "secret_key": "bench-secret-key",
                    "tenant_enabled": False,
                    "database_auto_upgrade": True,
                    "bus": {"topology": "shared"},
                    "egress": {"auvo_requests_per_minute": 0},
                }
            ),
            encoding="utf-8",
        )
        here = str(Path(__file__).resolve().parent)
        env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "DATABASE_URL")}
        env["PYTHONPATH"] = os.pathsep.join([str(Path(here).parent), here])
        fleet = subprocess.Popen(
            [sys.executable, "-c", FLEET, str(args.companies), str(config), here],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert fleet.stdout is not None
            if fleet.stdout.readline().strip() != "ready":
                raise SystemExit("the simulated fleet did not start")
            deployment = Deployment.of(load_settings(config))
            transactions = [0]

            @event.listens_for(deployment.store.engine, "begin")
            def _count(conn: object) -> None:
                transactions[0] += 1

            running = start(deployment.apps, registry=deployment)
            try:
                time.sleep(args.warm)
                cpu, wall, txn = time.process_time(), time.monotonic(), transactions[0]
                time.sleep(args.window)
                cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                txn = transactions[0] - txn
                share = 100 * cpu / wall
                n = len(deployment.apps)
                print(
                    f"{n} idle companies, one process, {threading.active_count()} threads: "
                    f"{share:.1f} % of a core ({share / n:.3f} % per company, so "
                    f"{1000 * share / n:.0f} % of a core for 1,000); "
                    f"{60 * txn / wall / n:.1f} store transactions a minute per company"
                )
            finally:
                running.stop()
                deployment.close()
        finally:
            fleet.kill()


if __name__ == "__main__":
    main()
