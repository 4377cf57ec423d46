"""Quota cost: what the integration spends of the providers' quotas while idle, per change, per backfill.

Runs the embedded integration (memory bus, a SQLite store, both simulators on localhost, the
consumers of `auvo-bling run`) at the README's defaults: customers `both`, tasks and quotes on, no
webhooks, poll interval 5 s stretching to 32 s, 30 s overlap. Seeded like the demo (200 customers
a side, 24 tasks, 6 quotations). Prints, in one run:

1. idle Bling calls per day as a share of 120,000, and idle Auvo calls per minute, per endpoint;
2. full reads (`GET /contatos/{id}`) per changed Bling contato;
3. the change-to-write p95 after an idle period (the price of the stretched interval);
4. Bling calls per written record during a backfill (`Backfill`, on freshly seeded simulators).

The accelerated clock, and why the figures stay honest: the pollers run the production loop
(`run_poll_loop` with the `AdaptiveInterval` the settings give), but every poll interval is divided
by `--speed` (default 60: an idle minute takes one second). Every request is real and counted by
the simulators, so calls per *simulated* minute = calls counted / (real seconds x speed / 60).
The overlap (30 s) and everything else run in real time. The latency of a change after an idle
spell is measured per change as (wait for the first pass after the change) x speed + (real time
from that pass's start to the write in the other simulator): the poll wait is scaled back to real
seconds, the pipeline is measured as it is. Changes come at a random moment of the stretched
interval, each after the pollers have been idle long enough to be at the bound again.

Usage: python bench/quota_cost.py [--speed 60] [--idle-minutes 10] [--samples 40] [--contatos 40]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auvo_bling.authorize import authorize_headless
from auvo_bling.backfill.run import Backfill
from auvo_bling.demo_jobs import seed_demo_jobs
from auvo_bling.runtime import Running, start
from auvo_bling.wiring import App, start_thread
from infra.logging import configure_logging
from infra.settings import Settings
from producers.bling_contacts import BlingContactPoller
from producers.contact_reads import LAG
from producers.polling import CLOCK_SKEW, AdaptiveInterval, Poller, run_poll_loop
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.seed import seed_auvo_customers, seed_bling_contacts
from simulators.server import serve_in_thread

CLIENT_ID, CLIENT_SECRET, REDIRECT = (
    "quota-bench",
    "quota-bench-secret-0123456789",
    "http://127.0.0.1:8765/cb",
)
BLING_DAILY_QUOTA = 120_000
OVERLAP = 30.0  # the README's default; real seconds (it allows for commits landing late)


class TimedPoller:
    """The production poller, with the start of every pass noted (to find the pass that saw a change)."""

    def __init__(self, poller: Poller) -> None:
        self.inner = poller
        self.name = poller.name
        self.starts: list[float] = []
        self._lock = threading.Lock()

    def poll_once(self) -> int:
        with self._lock:
            self.starts.append(time.monotonic())
        return self.inner.poll_once()

    def first_pass_after(self, moment: float) -> float | None:
        with self._lock:
            return next((s for s in self.starts if s >= moment), None)


@dataclass
class Pipeline:
    app: App
    auvo: AuvoState
    bling: BlingState
    running: Running
    pollers: dict[str, TimedPoller]
    stop: threading.Event
    speed: float
    auvo_ids: list[int] = field(default_factory=list)
    bling_ids: list[int] = field(default_factory=list)

    def settings_line(self) -> str:
        poll = self.app.settings.poll
        fast, longest = poll.interval_seconds * self.speed, poll.max_interval_seconds * self.speed
        return (
            f"poll {fast:g} s stretching to {longest:g} s "
            f"(run {self.speed:g}x faster), overlap {poll.overlap_seconds:g} s (real), customers both, "
            "tasks and quotes on, no webhooks"
        )


@contextmanager
def pipeline(workdir: Path, speed: float, *, fixed: bool = False) -> Iterator[Pipeline]:
    auvo = AuvoState(rate_limit_per_minute=6000)
    bling = BlingState(rate_limit_per_second=50)
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    auvo_ids = [int(c["id"]) for c in seed_auvo_customers(auvo, 200, rng_seed=1)]
    bling_ids = [int(c["id"]) for c in seed_bling_contacts(bling, 200, rng_seed=2)]
    jobs = seed_demo_jobs(auvo, auvo_ids, tasks=24, quotes=6)
    auvo_server = serve_in_thread(create_auvo_app(auvo))
    bling_server = serve_in_thread(create_bling_app(bling))
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    settings = Settings(
        amqp_url="memory://",
        database_url=f"sqlite:///{workdir / 'quota.sqlite3'}",
        secret_key="quota-bench-secret-key",
        auvo={
            "base_url": f"{auvo_server.url}/v2",
            "api_key": auvo.api_key,
            "api_token": auvo.api_token,
            "requests_per_minute": 6000,
        },
        bling={
            "base_url": f"{bling_server.url}/Api/v3",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "requests_per_second": 50,
        },
        customers={"direction": "both"},
        **jobs.settings(),
        poll={
            "interval_seconds": defaults.poll.interval_seconds / speed,
            # --fixed: as on main before adaptive intervals, for the "before" figures
            "max_interval_seconds": (
                defaults.poll.interval_seconds if fixed else defaults.poll.max_interval_seconds
            )
            / speed,
            "overlap_seconds": OVERLAP,
        },
        bus={"retry_delays_seconds": [0.5, 1.0, 2.0], "max_attempts": 6},
    )
    app = App(settings)
    authorize_headless(app)
    running = start(app, producers=False, worker_threads=2)
    stop = threading.Event()
    publisher = app.publisher()
    pollers = {p.name: TimedPoller(p) for p in app.pollers(publisher)}
    for poller in pollers.values():
        fast, longest = settings.poll_bounds(pushed=bool(getattr(poller.inner, "pushed", False)))
        running.threads.append(
            start_thread(run_poll_loop, f"bench-{poller.name}", poller, AdaptiveInterval(fast, longest), stop)
        )
    try:
        yield Pipeline(app, auvo, bling, running, pollers, stop, speed, auvo_ids, bling_ids)
    finally:
        stop.set()
        running.stop()
        publisher.close()
        app.close()
        auvo_server.stop()
        bling_server.stop()


def writes(p: Pipeline) -> tuple[Any, ...]:
    return (len(p.bling.contacts), len(p.auvo.customers), tuple(sorted(p.running.consumer_stats().items())))


def wait_quiet(p: Pipeline, quiet_seconds: float, timeout: float) -> None:
    """Until nothing was written for `quiet_seconds` (the initial sync and its echoes are over)."""
    deadline = time.monotonic() + timeout
    last, since = writes(p), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = writes(p)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return
    raise SystemExit("the initial sync did not settle in time")


def calls(p: Pipeline) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    with p.bling.lock:
        bling = Counter(p.bling.calls)
    with p.auvo.lock:
        auvo = Counter(p.auvo.calls)
    return bling, auvo


def measure_idle(p: Pipeline, idle_minutes: float) -> dict[str, Any]:
    b0, a0 = calls(p)
    began = time.monotonic()
    time.sleep(idle_minutes * 60 / p.speed)
    real = time.monotonic() - began
    b1, a1 = calls(p)
    minutes = real * p.speed / 60
    bling, auvo = b1 - b0, a1 - a0
    return {"minutes": minutes, "bling": bling, "auvo": auvo}


def wait_for(condition: Callable[[], bool], timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.002)
    return None


def idle_again(p: Pipeline) -> None:
    """Long enough without changes for every poller to be back at its bound (5+10+20+32 s, with margin)."""
    time.sleep(80 / p.speed)


def latency_samples(p: Pipeline, samples: int, rng: random.Random) -> list[tuple[str, float, float]]:
    """(kind, simulated seconds from change to write, of which the scaled poll wait)."""
    bound = p.app.settings.poll.max_interval_seconds
    out: list[tuple[str, float, float]] = []
    auvo_pool = list(p.auvo_ids[100:])
    bling_pool = list(p.bling_ids[100:])
    for i in range(samples):
        idle_again(p)
        time.sleep(rng.uniform(0, bound))  # a random moment of the stretched interval
        if i % 2 == 0:
            customer_id = auvo_pool.pop()
            name = f"Cliente alterado {i}"
            changed = time.monotonic()
            p.auvo.update_customer(customer_id, description=name)
            poller = p.pollers["auvo.customers"]
            done = wait_for(
                lambda n=name: any(c.get("nome") == n for c in list(p.bling.contacts.values())), 60
            )
            kind = "Auvo customer -> Bling contato"
        else:
            contact_id = bling_pool.pop()
            email = f"alterado{i}@exemplo.com.br"
            changed = time.monotonic()
            p.bling.update_contact(contact_id, email=email)
            poller = p.pollers["bling.contacts"]
            done = wait_for(
                lambda e=email: any(e in (c.get("email") or []) for c in list(p.auvo.customers.values())), 60
            )
            kind = "Bling contato -> Auvo customer"
        picked = poller.first_pass_after(changed)
        if done is None or picked is None:
            raise SystemExit(f"sample {i} ({kind}) was not written within 60 s")
        wait = (picked - changed) * p.speed
        out.append((kind, wait + (done - picked), wait))
    return out


def contato_reads(p: Pipeline, count: int, rng: random.Random) -> dict[str, Any]:
    """Change `count` contatos nobody touched for a while (half a listed field, half the e-mail,
    a quarter changed twice a few seconds apart), then count the poller's full reads."""
    poller = p.pollers["bling.contacts"].inner
    assert isinstance(poller, BlingContactPoller)
    ids = list(p.bling_ids[:count])
    before = poller.full_reads
    changes = 0
    for n, contact_id in enumerate(ids):
        if n % 2:
            p.bling.update_contact(contact_id, email=f"leitura{n}@exemplo.com.br")
        else:
            p.bling.update_contact(contact_id, nome=f"Contato lido {n}")
        changes += 1
        time.sleep(rng.uniform(0, 0.3))
    time.sleep(3)
    for contact_id in ids[: count // 4]:
        p.bling.update_contact(contact_id, email=f"segunda{contact_id}@exemplo.com.br")
        changes += 1
    expected = {cid: p.bling.contacts[cid].get("email") for cid in ids}
    wait_for(
        lambda: all(
            any(e in (c.get("email") or []) for c in list(p.auvo.customers.values()))
            for e in expected.values()
            if e
        ),
        60,
    )
    time.sleep(OVERLAP + 5)  # every change has left the overlap; the settle checks are done
    reads = poller.full_reads - before
    return {"contatos": len(ids), "changes": changes, "reads": reads}


def backfill_cost(workdir: Path, per_side: int) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).parent))
    from backfill_rate import seed  # the backfill bench's workload: a fifth on both sides

    auvo = AuvoState(rate_limit_per_minute=4000)
    bling = BlingState(rate_limit_per_second=30)
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    seed(auvo, bling, per_side, 0.2)
    auvo_server = serve_in_thread(create_auvo_app(auvo))
    bling_server = serve_in_thread(create_bling_app(bling))
    settings = Settings(
        amqp_url="memory://",
        database_url=f"sqlite:///{workdir / 'backfill.sqlite3'}",
        secret_key="quota-bench-secret-key",
        customers={"direction": "both"},
        auvo={
            "base_url": f"{auvo_server.url}/v2",
            "api_key": auvo.api_key,
            "api_token": auvo.api_token,
            "requests_per_minute": 4000,
        },
        bling={
            "base_url": f"{bling_server.url}/Api/v3",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "requests_per_second": 30,
        },
    )
    app = App(settings)
    try:
        authorize_headless(app)
        summary = Backfill(
            app.store,
            app.auvo,
            app.bling,
            tenant=app.tenant,
            direction=app.direction,
            bling_quota_per_second=30,
        ).run()
    finally:
        app.close()
        auvo_server.stop()
        bling_server.stop()
    return {
        "written": summary.written,
        "bling_calls": summary.bling_calls,
        "per": summary.bling_calls_per_written,
        "simulator_bling": sum(bling.calls.values()),
    }


def endpoints(counter: Counter[tuple[str, str]], minutes: float) -> str:
    return (
        ", ".join(f"{m} {path} {n / minutes:.2f}/min" for (m, path), n in sorted(counter.items())) or "none"
    )


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def print_idle(idle: dict[str, Any]) -> None:
    minutes = idle["minutes"]
    bling_per_min = sum(idle["bling"].values()) / minutes
    auvo_per_min = sum(idle["auvo"].values()) / minutes
    per_day = bling_per_min * 1440
    print()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, CPython {platform.python_version()}")
    print(f"idle ({minutes:.1f} simulated minutes after the sync):")
    print(
        f"  Bling: {bling_per_min:.2f} calls/min = {per_day:,.0f}/day = {per_day / BLING_DAILY_QUOTA:.2%} "
        f"of {BLING_DAILY_QUOTA:,} (goal <= 3 %) [{endpoints(idle['bling'], minutes)}]"
    )
    print(f"  Auvo: {auvo_per_min:.2f} calls/min (goal <= 12) [{endpoints(idle['auvo'], minutes)}]")
    print("  not in these counts: one Auvo login per 30 min (+0.03/min), one Bling token refresh per 6 h")


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--speed", type=float, default=60.0, help="poll waits run this many times faster")
    parser.add_argument("--idle-minutes", type=float, default=10.0, help="simulated idle minutes measured")
    parser.add_argument("--samples", type=int, default=40, help="changes timed after an idle spell")
    parser.add_argument("--contatos", type=int, default=40, help="Bling contatos changed for the reads")
    parser.add_argument("--backfill", type=int, default=150, help="customers a side for the backfill figure")
    parser.add_argument("--fixed", action="store_true", help="idle figures only, fixed 5 s interval (before)")
    args = parser.parse_args()
    configure_logging("console", "warning")
    rng = random.Random(16)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="quota-bench-") as tmp:
        workdir = Path(tmp)
        with pipeline(workdir, args.speed, fixed=args.fixed) as p:
            print(f"settings: {p.settings_line()}")
            wait_quiet(p, quiet_seconds=3.0, timeout=180)
            settle = OVERLAP + CLOCK_SKEW.total_seconds() + 5
            print(f"initial sync done in {time.monotonic() - began:.0f} s; waiting {settle:g} s (real)")
            # real time, not accelerated: the sync's burst leaves the pollers' windows (the overlap
            # plus the clock-skew allowance of `quiet_since`) and the contatos' read memory
            time.sleep(settle)
            idle = measure_idle(p, args.idle_minutes)
            if args.fixed:
                print_idle(idle)
                return 0
            samples = latency_samples(p, args.samples, rng)
            reads = contato_reads(p, args.contatos, rng)
        backfill = backfill_cost(workdir, args.backfill)

    print_idle(idle)
    print(
        f"full reads per changed contato: {reads['reads'] / reads['contatos']:.2f} ({reads['reads']} reads, "
        f"{reads['contatos']} contatos, {reads['changes']} changes; goal <= 1.5)"
    )
    all_latency = [s[1] for s in samples]
    print(
        f"change-to-write after an idle spell, {len(samples)} changes: "
        f"p50 {statistics.median(all_latency):.1f} s, "
        f"p95 {p95(all_latency):.1f} s, max {max(all_latency):.1f} s (goal without webhooks <= 15 s)"
    )
    for kind in sorted({s[0] for s in samples}):
        values = [s[1] for s in samples if s[0] == kind]
        pipe = [s[1] - s[2] for s in samples if s[0] == kind]
        print(f"  {kind}: p95 {p95(values):.1f} s (pipeline, real: median {statistics.median(pipe):.3f} s)")
    lag, bound = LAG.total_seconds(), p.app.settings.poll.max_interval_seconds * args.speed
    print(
        f"  (the contatos window ends {lag:g} s before its pass, real time here; at real speed a change made "
        f"less than {lag:g} s before a pass waits one interval more: {lag / bound:.0%} of changes)"
    )
    print(
        f"backfill: {backfill['per']} Bling calls per written record ({backfill['bling_calls']} calls, "
        f"{backfill['written']} written, {args.backfill} customers a side)"
    )
    print(f"run took {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
