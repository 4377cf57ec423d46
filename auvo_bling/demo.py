"""`auvo-bling demo`: the whole flow on the embedded default, against both simulators.

In-memory bus, a throw-away SQLite file, both simulators seeded on localhost, customers in
`both` directions: pollers publish, consumers write, echoes are dropped. It ends when every
seeded customer exists exactly once on the other side and nothing is in flight, prints a
summary, and succeeds only if nothing was lost or duplicated.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from auvo_bling.authorize import authorize_headless
from auvo_bling.demo_catalogue import CatalogueResult, seed_catalogue_only, sync_catalogue
from auvo_bling.demo_jobs import DemoJobs, bling_sales_documents, seed_demo_jobs
from auvo_bling.products_cli import map_product
from auvo_bling.runtime import Running, start
from auvo_bling.wiring import App
from consumers.customers.mapping import auvo_marker
from contracts.order_outcomes import SITUACAO_ATENDIDO
from contracts.store_keys import JOB_ORDER
from infra.bus.topology import (
    ALL_WORK_QUEUES,
    TO_AUVO_CUSTOMERS,
    TO_AUVO_TASK_OUTCOMES,
    TO_BLING_CONTACTS,
    TO_BLING_ORDERS,
)
from infra.settings import Settings
from producers.selection_reasons import reason_name
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.seed import seed_auvo_customers, seed_bling_contacts
from simulators.server import serve_in_thread

DEMO_CLIENT_ID = "demo-client-id"
DEMO_REDIRECT = "http://127.0.0.1:8765/callback"


@dataclass
class DemoResult:
    auvo_seeded: int
    bling_seeded: int
    auvo_to_bling: int
    bling_to_auvo: int
    duplicates: int
    published: int
    stats: dict[str, int]
    seconds: float
    jobs: JobsResult | None = None
    counters: dict[str, int] = field(default_factory=dict)  # outcomes per consumer, from the store
    catalogue: CatalogueResult | None = None  # the second act: Bling's catalogue -> Auvo

    @property
    def ok(self) -> bool:
        return (
            self.auvo_to_bling == self.auvo_seeded
            and self.bling_to_auvo == self.bling_seeded
            and self.duplicates == 0
            and self.stats.get("dead_lettered", 0) == 0
            and (self.jobs is None or self.jobs.ok)
            and not (self.jobs is not None and self.jobs.catalogue_seeded and self.produtos_created)
            and (self.catalogue is None or self.catalogue.ok)
        )

    @property
    def produtos_created(self) -> int:
        """New Bling produtos: 0 when the Bling catalogue already holds what the tasks sell."""
        return sum(v for k, v in self.counters.items() if k.startswith("catalog.") and k.endswith(".created"))


@dataclass
class JobsResult:
    """Tasks and quotes: what should have reached Bling, and what did."""

    tasks_seeded: int
    quotes_seeded: int
    expected_pedidos: set[int]
    expected_propostas: set[int]
    pedidos: Counter[int]
    propostas: Counter[int]
    filtered_out: Counter[str]
    catalogue_seeded: bool = False
    mapped: int = 0  # items mapped by hand (`products map`) before the run

    @property
    def ok(self) -> bool:
        return (
            set(self.pedidos) == self.expected_pedidos
            and set(self.propostas) == self.expected_propostas
            and all(n == 1 for n in (*self.pedidos.values(), *self.propostas.values()))
        )

    @classmethod
    def observe(cls, jobs: DemoJobs, bling: BlingState) -> JobsResult:
        pedidos, propostas = bling_sales_documents(bling)
        return cls(
            len(jobs.tasks),
            len(jobs.quotes),
            jobs.expected_task_ids(),
            jobs.expected_quote_ids(),
            pedidos,
            propostas,
            jobs.filtered_out(),
            jobs.catalogue_seeded,
            len(jobs.mappings),
        )


def sync_progress(
    auvo: AuvoState, bling: BlingState, auvo_ids: list[int], bling_ids: list[int]
) -> tuple[int, int, int]:
    """(Auvo customers found in Bling, Bling contacts found in Auvo, duplicates on either side)."""
    with bling.lock:
        codigos = Counter(c.get("codigo") for c in bling.contacts.values())
    with auvo.lock:
        external = Counter(c.get("externalId") for c in auvo.customers.values())
    reached_bling = sum(1 for i in auvo_ids if codigos.get(auvo_marker(i), 0) >= 1)
    reached_auvo = sum(1 for i in bling_ids if external.get(str(i), 0) >= 1)
    dupes = sum(n - 1 for k, n in codigos.items() if k and n > 1)
    dupes += sum(n - 1 for k, n in external.items() if k and n > 1)
    return reached_bling, reached_auvo, dupes


def _queues_empty(app: App) -> bool:
    from infra.bus.publisher import make_connection

    conn = make_connection(app.settings.amqp_url)
    try:
        with conn.channel() as channel:
            for wq in ALL_WORK_QUEUES:
                _, ready, _ = channel.queue_declare(app.topology.name(wq.name), passive=True)
                if ready:
                    return False
    finally:
        conn.release()
    return True


def run_demo(
    customers_per_side: int = 200,
    *,
    timeout: float = 55.0,
    out: TextIO = sys.stdout,
    bling_rate_per_second: int = 50,
    auvo_rate_per_minute: int = 6000,
    tasks: int = 24,
    quotes: int = 6,
) -> DemoResult:
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="auvo-bling-demo-"))
    client_secret = secrets.token_urlsafe(24)

    auvo_state = AuvoState(rate_limit_per_minute=auvo_rate_per_minute)
    bling_state = BlingState(rate_limit_per_second=bling_rate_per_second)
    bling_state.register_app(DEMO_CLIENT_ID, client_secret, DEMO_REDIRECT)
    auvo_ids = [int(c["id"]) for c in seed_auvo_customers(auvo_state, customers_per_side, rng_seed=1)]
    bling_ids = [int(c["id"]) for c in seed_bling_contacts(bling_state, customers_per_side, rng_seed=2)]
    jobs = (
        seed_demo_jobs(auvo_state, auvo_ids, tasks=tasks, quotes=quotes, bling=bling_state)
        if tasks or quotes
        else None
    )
    if jobs is not None and jobs.catalogue_seeded:
        seed_catalogue_only(bling_state)
    auvo_server = serve_in_thread(create_auvo_app(auvo_state))
    bling_server = serve_in_thread(create_bling_app(bling_state))

    settings = Settings(
        amqp_url="memory://",
        database_url=f"sqlite:///{workdir / 'demo.sqlite3'}",
        secret_key=secrets.token_urlsafe(32),
        auvo={
            "base_url": f"{auvo_server.url}/v2",
            "api_key": auvo_state.api_key,
            "api_token": auvo_state.api_token,
            "requests_per_minute": auvo_rate_per_minute,
        },
        bling={
            "base_url": f"{bling_server.url}/Api/v3",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": client_secret,
            "redirect_uri": DEMO_REDIRECT,
            "requests_per_second": bling_rate_per_second,
        },
        customers={"direction": "both"},
        **(jobs.settings() if jobs else {}),
        poll={"interval_seconds": 0.5, "max_interval_seconds": 1.0, "overlap_seconds": 5},
        bus={"retry_delays_seconds": [0.5, 1.0, 2.0], "max_attempts": 6},
    )
    print(
        f"auvo-bling demo: {customers_per_side} customers in the Auvo simulator ({auvo_server.url}), "
        f"{customers_per_side} contacts in the Bling simulator ({bling_server.url}); direction=both\n"
        f"  (the simulators allow {bling_rate_per_second:g} req/s for Bling and {auvo_rate_per_minute} "
        "req/min for Auvo so the demo fits in a minute; the real quotas are 3 req/s and 400 req/min)",
        file=out,
    )
    app = App(settings)
    running: Running | None = None
    try:
        missing = authorize_headless(app)
        print(f"  Bling authorized (scopes missing: {', '.join(missing) or 'none'})", file=out)
        for kind, auvo_id, bling_id in jobs.mappings if jobs else []:
            map_product(app, kind, auvo_id, bling_id)
            print(
                f"  auvo-bling products map {kind} {auvo_id} {bling_id}  (Auvo services carry no code)",
                file=out,
            )
        running = start(app, worker_threads=2)
        result = _wait_until_synced(
            app, running, auvo_state, bling_state, auvo_ids, bling_ids, jobs, timeout, out
        )
        running.stop()
        running = None
        if result.ok and jobs is not None and jobs.catalogue_seeded:
            left = max(5.0, timeout - (time.monotonic() - began))
            result.catalogue = sync_catalogue(settings, auvo_state, bling_state, left, out)
    finally:
        if running is not None:
            running.stop()
        app.close()
        auvo_server.stop()
        bling_server.stop()
    result.seconds = time.monotonic() - began
    _print_summary(result, out)
    return result


def _wait_until_synced(
    app: App,
    running: Running,
    auvo_state: AuvoState,
    bling_state: BlingState,
    auvo_ids: list[int],
    bling_ids: list[int],
    jobs: DemoJobs | None,
    timeout: float,
    out: TextIO,
) -> DemoResult:
    deadline = time.monotonic() + timeout
    outcomes = DemoOutcomes()
    last_change = time.monotonic()
    last_seen: tuple[Any, ...] = ()
    last_print = 0.0
    while True:
        a2b, b2a, dupes = sync_progress(auvo_state, bling_state, auvo_ids, bling_ids)
        job_result = JobsResult.observe(jobs, bling_state) if jobs else None
        if job_result is not None and job_result.ok:
            outcomes.act(bling_state, app)
        snapshot = (
            a2b,
            b2a,
            job_result and (sum(job_result.pedidos.values()), sum(job_result.propostas.values())),
            running.published(),
            tuple(sorted(running.consumer_stats().items())),
        )
        now = time.monotonic()
        if snapshot != last_seen:
            last_seen, last_change = snapshot, now
        if now - last_print >= 2.0:
            print(
                f"  synced Auvo->Bling {a2b}/{len(auvo_ids)}, Bling->Auvo {b2a}/{len(bling_ids)}, "
                f"published {running.published()}",
                file=out,
            )
            last_print = now
        all_there = (
            a2b == len(auvo_ids)
            and b2a == len(bling_ids)
            and (job_result is None or (job_result.ok and outcomes.shown(app)))
        )
        quiet = now - last_change >= 2.0 and _queues_empty(app)
        if (all_there and quiet) or now >= deadline:
            return DemoResult(
                auvo_seeded=len(auvo_ids),
                bling_seeded=len(bling_ids),
                auvo_to_bling=a2b,
                bling_to_auvo=b2a,
                duplicates=dupes,
                published=running.published(),
                stats=running.consumer_stats(),
                seconds=0.0,
                jobs=job_result,
                counters=app.store.counters(app.tenant),
            )
        time.sleep(0.25)


class DemoOutcomes:
    """The demo's Bling user: once the pedidos are in, one is attended and another invoiced, and
    the run waits until both show on their Auvo tasks (issue 17, item 3)."""

    def __init__(self) -> None:
        self.acted = 0

    def act(self, bling: BlingState, app: App) -> None:
        if self.acted:
            return
        with bling.lock:
            ours = [
                int(o["id"])
                for o in bling.records["pedidos/vendas"].values()
                if app.store.auvo_id_for(app.tenant, JOB_ORDER, str(o["id"])) is not None
            ][:2]
        if len(ours) < 2:
            self.acted = -1  # nothing to show: do not wait for it
            return
        bling.set_order_situation(ours[0], SITUACAO_ATENDIDO)
        bling.issue_invoice(ours[1])
        self.acted = 2

    def shown(self, app: App) -> bool:
        if self.acted <= 0:
            return self.acted < 0
        return app.store.counters(app.tenant).get(f"{TO_AUVO_TASK_OUTCOMES.flow}.updated", 0) >= self.acted


def _outcome_line(counters: dict[str, int]) -> str:
    flow, echoes = TO_AUVO_TASK_OUTCOMES.flow, f"{TO_BLING_ORDERS.flow}.skipped_echo"
    return (
        f"  pedidos -> Auvo tasks   : {counters.get(f'{flow}.updated', 0)} outcomes shown (number and "
        f"keyword), {counters.get(f'{flow}.unchanged', 0)} already shown, "
        f"{counters.get(echoes, 0)} echoes dropped"
    )


def _catalogue_line(counters: dict[str, int], mapped: int) -> str:
    """How the sold items found their Bling produto: the company's catalogue, or created."""
    found: Counter[str] = Counter()
    for name, value in counters.items():
        kind, _, outcome = name.removeprefix("catalog.").partition(".")
        if name.startswith("catalog.") and kind in ("product", "service"):
            found[outcome.removeprefix("matched_")] += value
    created, held = found.pop("created", 0), found.pop("held", 0)
    parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(found.items())) or "none"
    return (
        f"  produtos                : {created} new; from Bling's catalogue: by {parts}, "
        f"mapped by hand {mapped}; held {held}"
    )


def _job_lines(jobs: JobsResult | None, counters: dict[str, int]) -> list[str]:
    if jobs is None:
        return []
    left_out = ", ".join(
        f"{kind} {reason_name(code, 'en')} {n}"
        for (kind, code), n in sorted((tuple(k.split(" ", 1)), v) for k, v in jobs.filtered_out.items())
    )
    return [
        f"  tasks -> pedidos        : {len(jobs.pedidos)}/{len(jobs.expected_pedidos)} expected "
        f"(of {jobs.tasks_seeded} tasks)",
        f"  quotes -> propostas     : {len(jobs.propostas)}/{len(jobs.expected_propostas)} expected "
        f"(of {jobs.quotes_seeded} quotes)",
        f"  left out by the options : {left_out or 'none'}",
        _catalogue_line(counters, jobs.mapped),
        _outcome_line(counters),
    ]


def _print_summary(result: DemoResult, out: TextIO) -> None:
    stats, ok = result.stats, result.ok
    counters = result.counters
    to_bling, to_auvo = TO_BLING_CONTACTS.flow, TO_AUVO_CUSTOMERS.flow
    created_bling = counters.get(f"{to_bling}.created", 0)
    created_auvo = counters.get(f"{to_auvo}.created", 0)
    updates = counters.get(f"{to_bling}.updated", 0) + counters.get(f"{to_auvo}.updated", 0)
    customer_writes = created_bling + created_auvo + updates
    skipped = {k: v for k, v in stats.items() if k.startswith("skipped") or k == "unchanged"}
    lines = [
        "",
        "summary",
        f"  Auvo customers in Bling : {result.auvo_to_bling}/{result.auvo_seeded}",
        f"  Bling contacts in Auvo  : {result.bling_to_auvo}/{result.bling_seeded}",
        f"  duplicates              : {result.duplicates}",
        f"  events published        : {result.published}",
        f"  customers written       : {customer_writes} "
        f"(to Bling {created_bling} created, to Auvo {created_auvo} created, {updates} updated)",
        "  skipped                 : "
        + (", ".join(f"{k.removeprefix('skipped_')} {v}" for k, v in sorted(skipped.items())) or "0"),
        *_job_lines(result.jobs, counters),
        *([result.catalogue.line()] if result.catalogue else []),
        f"  retried                 : {stats.get('retried', 0)}",
        f"  dead-lettered           : {stats.get('dead_lettered', 0)}",
        f"  seconds                 : {result.seconds:.1f}",
        f"  result                  : {'OK, every customer, task and quote synced' if ok else 'FAILED'}",
    ]
    print("\n".join(lines), file=out)
