"""Many companies on one deployment: what each company costs the broker and the process, and whether
an active company's changes still land as fast as when it is alone (issue 20).

For each size in `--tenants` (and first for 1 company, the baseline of the same run), one
`auvo-bling run` process serves that many companies of a simulated fleet (simulators/fleet.py: one
Auvo port and one Bling port in this process, a separate account per company, Bling's per-IP limits
shared), against the real RabbitMQ and the store of DATABASE_URL (else a SQLite file). Every company
starts with 5 customers in Auvo and 5 contatos in Bling (customers `both`); `--active` of them poll
every second and get a new Auvo customer about every second, the rest run the defaults and idle.

Measured per size, in the `run` process (and any child it has): the broker's queues for the run's
prefix (count and memory, from `rabbitmqctl`), threads, resident memory, AMQP and PostgreSQL
connections, CPU while every company idles; the first sync's duration; each active change's latency
(Auvo customer created -> its contato in Bling), p50/p95, and p95 over the baseline's p95; and, over
the whole fleet at the end, records lost (a document on one side only) and duplicated (a document
twice on one side). Prints one table; deletes every queue and exchange the run declared. Usage:

    python bench/many_tenants.py [--tenants 5,10] [--active 2] [--changes 20] [--topology shared|per_tenant]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomlkit
from kombu import Connection
from webhook_latency import measure, percentile  # bench/ is the script's own folder

from auvo_bling.authorize import PROVIDER
from auvo_bling.tenancy import Deployment
from infra.bling.oauth import TokenSet
from infra.logging import configure_logging
from infra.settings import Settings, load_settings
from simulators.fleet import Fleet, make_fleet
from simulators.seed import seed_auvo_customers, seed_bling_contacts
from simulators.server import serve_in_thread

# --split: a `produce` and a `consume` process instead of one `run` (two interpreters, two GILs),
# under a parent that passes SIGINT on; the figures are the whole process tree's
SPLIT = """
import signal, subprocess, sys
children = [subprocess.Popen([sys.executable, "-m", "auvo_bling.cli", role, "-c", sys.argv[1]])
            for role in ("produce", "consume")]
signal.signal(signal.SIGINT, lambda *_: [c.send_signal(signal.SIGINT) for c in children])
sys.exit(max(c.wait() for c in children))
"""

ACTIVE_POLL = {"interval_seconds": 1.0, "max_interval_seconds": 1.0, "overlap_seconds": 5}


@dataclass
class Result:
    tenants: int
    queues: int
    queue_memory_mb: float
    threads: int
    rss_mb: float
    amqp_connections: int
    pg_connections: int
    idle_cpu_percent: float
    startup_s: float
    first_sync_s: float
    latencies: list[float]
    lost: int
    duplicated: int


def documents(records: list[dict[str, Any]], key: str) -> Counter[str]:
    return Counter(re.sub(r"\D", "", str(r.get(key) or "")) for r in records if r.get(key))


def fleet_check(fleet: Fleet) -> tuple[int, int]:
    """(lost, duplicated) over every company: a document on one side only, or twice on one side."""
    lost = duplicated = 0
    for account in fleet.accounts:
        with account.auvo.lock:
            auvo = documents(list(account.auvo.customers.values()), "cpfCnpj")
        with account.bling.lock:
            bling = documents(list(account.bling.contacts.values()), "numeroDocumento")
        lost += len(set(auvo) ^ set(bling))
        duplicated += sum(n - 1 for n in auvo.values() if n > 1) + sum(n - 1 for n in bling.values() if n > 1)
    return lost, duplicated


class RunFailed(Exception):
    """`run` died (or never consumed): what its log's last line says."""


def alive(child: subprocess.Popen[bytes], log: Path) -> None:
    if child.poll() is not None:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise RunFailed(f"`run` exited {child.returncode}: {lines[-1][:150] if lines else 'no output'}")


def wait_converged(
    fleet: Fleet, timeout: float, child: subprocess.Popen[bytes], log: Path
) -> tuple[float, int, int]:
    started = time.monotonic()
    while True:
        alive(child, log)
        lost, duplicated = fleet_check(fleet)
        if (lost == 0 and duplicated == 0) or time.monotonic() - started > timeout:
            return time.monotonic() - started, lost, duplicated
        time.sleep(0.5)


def process_tree(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def proc_figures(pids: list[int]) -> tuple[int, float, int, int]:
    """Threads, RSS (MB), TCP connections to 5672 and to 5432 of the processes."""
    threads, rss_kb, inodes = 0, 0, set()
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            threads += int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
            rss_kb += int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (OSError, AttributeError):
            continue
    ports: Counter[int] = Counter()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and fields[3] == "01":  # ESTABLISHED
                ports[int(fields[2].rsplit(":", 1)[1], 16)] += 1
    return threads, rss_kb / 1024, ports[5672], ports[5432]


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def broker_queues(prefix: str) -> tuple[int, float]:
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "name", "memory", "--no-table-headers"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.startswith(prefix)]
    return len(rows), sum(int(r[1]) for r in rows) / 1e6


def wait_consuming(prefix: str, child: subprocess.Popen[bytes], timeout: float, log: Path) -> float:
    """Seconds until `run` consumes from every work queue it declared (no queue without a
    consumer for two readings in a row, the count no longer growing)."""
    started, previous = time.monotonic(), -1
    while time.monotonic() - started < timeout:
        alive(child, log)
        out = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "name", "consumers", "--no-table-headers"],
            capture_output=True, text=True, check=True,
        ).stdout
        rows = [line.split() for line in out.splitlines() if line.startswith(prefix)]
        consuming = sum(1 for r in rows if int(r[1]) > 0)
        if consuming and consuming == previous:
            return time.monotonic() - started
        previous = consuming
        time.sleep(1.0)
    raise RunFailed(f"`run` did not consume from every queue within {timeout:.0f} s")


def delete_broker_objects(amqp_url: str, prefix: str) -> None:
    """Every queue and exchange of the run's prefix (a leftover quorum queue weighs on the broker)."""
    listed = {
        kind: subprocess.run(
            ["rabbitmqctl", "-q", f"list_{kind}", "name", "--no-table-headers"],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        for kind in ("queues", "exchanges")
    }
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        for name in (n for n in listed["queues"] if n.startswith(prefix)):
            channel.queue_delete(name)
        for name in (n for n in listed["exchanges"] if n.startswith(prefix)):
            channel.exchange_delete(name)


def fresh_database(url: str | None, name: str) -> str | None:
    """A new, empty PostgreSQL database on `url`'s server for one size (each size's fleet numbers
    its companies and records from the start again: one database would mix their id maps)."""
    if not url or not url.startswith("postgres"):
        return None
    import sqlalchemy as sa

    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{url.rsplit('/', 1)[0]}/{name}"


def seed_tokens(settings: Settings, fleet: Fleet) -> None:
    """The companies authorized Bling earlier (a thousand OAuth dances would take an hour under the
    IP-wide token ceiling, and are not what this measures): their tokens in each tenant's vault."""
    deployment = Deployment.of(settings)
    try:
        for app in deployment.apps:
            account = fleet.account(app.tenant)
            answer = account.bling.grant_tokens(account.client_id)
            app.vault.save(PROVIDER, TokenSet(
                access_token=answer["access_token"], refresh_token=answer["refresh_token"],
                expires_at=datetime.now(UTC) + timedelta(seconds=answer["expires_in"]),
                scope=answer["scope"].split(), lifetime_seconds=float(answer["expires_in"]),
            ))
    finally:
        deployment.close()


def run_size(tenants: int, args: argparse.Namespace, workdir: Path, run_id: str) -> Result:
    fleet = make_fleet(tenants, customers=0)
    servers = [serve_in_thread(fleet.auvo_app()), serve_in_thread(fleet.bling_app())]
    prefix = f"many-{run_id}-{tenants}."
    database_url = fresh_database(args.database_url, f"many_{run_id}_{tenants}") or (
        f"sqlite:///{workdir / f'many-{tenants}.sqlite3'}"
    )
    sections = fleet.tenant_sections(servers[0].url, servers[1].url)
    for section in sections.values():
        section["customers"] = {"direction": "both"}
    active = fleet.accounts[: min(args.active, tenants)]
    for account in active:
        sections[account.name]["poll"] = dict(ACTIVE_POLL)
    values: dict[str, Any] = {
        "AMQP_URL": args.amqp_url,  # the settings' names for these two are their variables'
        "DATABASE_URL": database_url,
        "secret_key": "bench-secret-key",
        "tenant_enabled": False,
        "bus": {"prefix": prefix, "retry_delays_seconds": [1, 5, 30], "topology": args.topology},
        "egress": {"auvo_requests_per_minute": args.auvo_ip_per_minute},
        "tenants": sections,
    }
    config = workdir / f"many-{tenants}.toml"
    config.write_text(tomlkit.dumps(values), encoding="utf-8")
    seed_tokens(load_settings(config), fleet)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUVO_BLING_")}
    env.pop("AMQP_URL", None)
    env.pop("DATABASE_URL", None)
    env["AUVO_BLING_LOG_LEVEL"] = "warning"
    log_path = workdir / f"run-{tenants}.log"
    log = log_path.open("w")
    command = [sys.executable, "-c", SPLIT, str(config)] if args.split else [
        sys.executable, "-m", "auvo_bling.cli", "run", "-c", str(config)]
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        startup = wait_consuming(prefix, child, args.sync_timeout, log_path)
        time.sleep(args.settle)  # the pollers' first pass
        # one change on each side of every company, idle ones included: every poller of every
        # company must find it (a company's first pass covers only what changed since it started)
        for index, account in enumerate(fleet.accounts):
            seed_auvo_customers(account.auvo, 1, rng_seed=10 * index + 1)
            seed_bling_contacts(account.bling, 1, rng_seed=10 * index + 2)
        first_sync, lost, duplicated = wait_converged(fleet, args.sync_timeout, child, log_path)
        if lost or duplicated:
            print(f"  {tenants} companies: not converged ({lost} lost, {duplicated} duplicated)")
        time.sleep(args.settle)
        pids = process_tree(child.pid)
        threads, rss, amqp, pg = proc_figures(pids)
        queues, queue_mb = broker_queues(prefix)
        cpu_before = cpu_seconds(pids)
        time.sleep(args.idle_window)
        idle_cpu = 100 * (cpu_seconds(pids) - cpu_before) / args.idle_window

        latencies: list[float] = []
        lock = threading.Lock()

        def active_company(index: int) -> None:
            account = active[index]
            found = measure(account.auvo, account.bling, args.changes, args.timeout,
                            random.Random(index), 2.0, first_document=30_000_000_000 + index * 10_000)
            with lock:
                latencies.extend(found)

        workers = [threading.Thread(target=active_company, args=(i,)) for i in range(len(active))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        _, lost, duplicated = wait_converged(fleet, args.sync_timeout, child, log_path)
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()
        delete_broker_objects(args.amqp_url, prefix)
        for server in servers:
            server.stop()
    return Result(tenants, queues, queue_mb, threads, rss, amqp, pg, idle_cpu, startup, first_sync, latencies,
                  lost, duplicated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", default="5,10", help="deployment sizes, comma-separated")
    parser.add_argument("--active", type=int, default=2, help="companies with live changes")
    parser.add_argument("--changes", type=int, default=20, help="changes per active company")
    parser.add_argument("--timeout", type=float, default=60.0, help="per change")
    parser.add_argument("--sync-timeout", type=float, default=600.0, help="first sync and final check")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the first sync")
    parser.add_argument("--idle-window", type=float, default=20.0, help="seconds of CPU measured idle")
    parser.add_argument(
        "--amqp-url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument(
        "--topology", choices=("per_tenant", "shared"), default="shared",
        help="bus.topology (per_tenant: never more than 10 companies on a small broker)",
    )
    parser.add_argument(
        "--auvo-ip-per-minute", type=int, default=0,
        help="egress.auvo_requests_per_minute: Auvo's 400/min held for all companies together "
        "(0: per key only, as the fleet simulates; the default IP figure binds above a few companies)",
    )
    parser.add_argument("--split", action="store_true",
                        help="a `produce` and a `consume` process instead of one `run`")
    args = parser.parse_args()
    sizes = [int(s) for s in args.tenants.split(",") if s.strip()]
    if any(n < 1 for n in sizes):
        raise SystemExit("--tenants takes positive sizes, e.g. 5,10,20")
    configure_logging("console", "error")
    run_id = uuid.uuid4().hex[:6]
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpu, CPython {platform.python_version()}, "
        f"store {'PostgreSQL' if (args.database_url or '').startswith('postgres') else 'SQLite'}; "
        f"1 active company at size 1, {args.active} above, {args.changes} changes each; "
        f"bus.topology {args.topology}{', produce + consume processes' if args.split else ', one run'}",
        flush=True
    )
    print(f"{'companies':>9} {'queues':>6} {'q MB':>6} {'threads':>7} {'RSS MB':>7} {'AMQP':>4} "
          f"{'PG':>3} {'idle CPU %':>10} {'start s':>7} {'all once s':>10} {'p50 s':>6} {'p95 s':>6} "
          f"{'p95/1':>6} {'lost':>4} {'dup':>4}", flush=True)
    baseline: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in [1, *sizes]:
            try:
                r = run_size(size, args, Path(tmp), run_id)
            except RunFailed as exc:  # the table so far stands; a bigger size would fail the same way
                print(f"{size:>9} {exc}", flush=True)
                raise SystemExit(1) from None
            p95 = percentile(r.latencies, 95)
            baseline = baseline or p95
            print(
                f"{r.tenants:>9} {r.queues:>6} {r.queue_memory_mb:>6.1f} {r.threads:>7} {r.rss_mb:>7.0f} "
                f"{r.amqp_connections:>4} {r.pg_connections:>3} {r.idle_cpu_percent:>10.1f} "
                f"{r.startup_s:>7.1f} {r.first_sync_s:>10.1f} {statistics.median(r.latencies):>6.2f} "
                f"{p95:>6.2f} {p95 / baseline:>6.2f} {r.lost:>4} {r.duplicated:>4}", flush=True
            )


if __name__ == "__main__":
    main()
