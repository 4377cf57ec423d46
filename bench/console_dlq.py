"""The Falhas page at scale, measured in one run: 100,000 index rows across 20 causes, and the replay
of a 10,000-message group through the real broker.

1. Index rows only (store): the page (`/falhas`) and its polled JSON (`/falhas/groups.json`), with
   and without filters, served in-process by Starlette's TestClient: server time p50/p95, the
   grouped counts checked against what was written, and how many DLQ sessions the page loads opened
   (the broker untouched: must be 0).
2. Broker: `--replay` dead letters of one cause put into a throw-away DLQ (unique prefix), indexed
   by `dlq reindex`'s pass, then replayed as one group operation (auvo_bling/failures.py): messages
   per second of each, the work queue's depth after, and every queue deleted at the end.

    python bench/console_dlq.py [--rows 100000] [--causes 20] [--replay 10000]
        [--pg postgresql://postgres@127.0.0.1:5432/postgres] [--amqp amqp://guest:guest@127.0.0.1:5672//]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kombu import Connection
from starlette.testclient import TestClient

import infra.bus.dlq as dlq_module
from auvo_bling.console.app import create_console_app
from auvo_bling.console.passwords import hash_password
from auvo_bling.failures import Failures, Selection
from infra.bus.dlq import DlqSession
from infra.bus.dlq_records import DeadLetter
from infra.bus.topology import TO_BLING_CONTACTS, Topology
from infra.settings import Settings
from infra.store import DeadLetterEntry, IndexQuery, Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from history_cost import database

TENANTS = ("acme", "beta", "gama", "delta", "epsilon")
CLASSES = ("AuvoApiDeactivated", "ApiRejected", "TenantPaused", "BlingScopeMissing", "DeliveryLimitExceeded")
CONSUMERS = ("to-bling.orders", "to-bling.contacts", "to-auvo.customers", "to-bling.proposals")


def cause(i: int) -> tuple[str, str, str]:
    """(error class, consumer, diagnosis template) of cause i: 20 distinct fingerprints."""
    return (CLASSES[i % 5], CONSUMERS[i // 5], f"cause {chr(65 + i)}: record {{n}} refused at {{at}}")


def write_index(store: Store, rows: int, causes: int) -> dict[tuple[str, str], int]:
    """Rows across causes with weights 1..causes; returns the expected count per (class, consumer)."""
    weights = list(range(1, causes + 1))
    per_cause = [rows * w // sum(weights) for w in weights]
    per_cause[-1] += rows - sum(per_cause)
    now = datetime.now(UTC)
    expected: dict[tuple[str, str], int] = {}
    batch: list[DeadLetterEntry] = []
    n = 0
    for i, count in enumerate(per_cause):
        cls, consumer, template = cause(i)
        expected[(cls, consumer)] = count
        for _ in range(count):
            n += 1
            at = now - timedelta(seconds=n)
            body = {"event_id": f"ev-{n}", "type": "auvo.task.status_reached", "entity_id": str(n)}
            letter = DeadLetter.from_message(
                json.dumps(body).encode(),
                {
                    "x-consumer": consumer,
                    "x-error-class": cls,
                    "x-error-message": template.format(n=n, at=at.isoformat()),
                    "x-hint": f"hint of cause {i}",
                    "x-dead-lettered-at": at.isoformat(),
                },
            )
            batch.append(
                DeadLetterEntry(
                    tenant=TENANTS[n % len(TENANTS)],
                    consumer=consumer,
                    letter_id=letter.id,
                    event_type=letter.event_type,
                    entity_id=letter.entity_id,
                    error_class=cls,
                    fingerprint=letter.fingerprint,
                    error_message=letter.error_message,
                    hint=letter.hint,
                    attempts=1,
                    seen_at=at,
                    message=json.dumps(letter.to_export()),
                )
            )
            if len(batch) == 2000:
                store.index_dead_letters(batch)
                batch = []
    store.index_dead_letters(batch)
    return expected


def pages(store: Store, database_url: str, expected: dict[tuple[str, str], int], loads: int) -> None:
    settings = Settings(
        database_url=database_url,
        amqp_url="memory://",
        secret_key="console-bench-secret-key",
        tenants={t: {"enabled": True} for t in TENANTS[1:]},
        tenant=TENANTS[0],
    )
    store.save_console_user("bench", "viewer", hash_password("bench-viewer-password"))
    client = TestClient(create_console_app(settings, store))
    login = client.get("/login").text
    token = login.split('name="login_csrf" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"name": "bench", "password": "bench-viewer-password", "login_csrf": token})
    opened = [0]
    original = DlqSession.__init__

    def counting_init(self: DlqSession, *args: Any, **kwargs: Any) -> None:
        opened[0] += 1
        original(self, *args, **kwargs)

    dlq_module.DlqSession.__init__ = counting_init  # type: ignore[method-assign]
    try:
        for path in (
            "/falhas",
            "/falhas/groups.json",
            "/falhas/groups.json?company=beta&q=record+7",
            "/falhas/groups.json?age=1h&error_class=ApiRejected",
        ):
            times = []
            for _ in range(loads):
                start = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(f"  {path:<55} p50 {statistics.median(times) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms")
        got = {
            (g["error_class"], g["consumer"]): g["count"]
            for g in client.get("/falhas/groups.json").json()["groups"]
        }
        print(f"  grouped counts correct: {got == expected} ({len(got)} groups, {sum(got.values())} letters)")
    finally:
        dlq_module.DlqSession.__init__ = original  # type: ignore[method-assign]
    print(f"  DLQ sessions opened by {loads * 4} page loads: {opened[0]}")


def replay(store: Store, amqp_url: str, count: int) -> None:
    topology = Topology(prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    with Connection(amqp_url) as conn:
        topology.declare(conn, work_queues=(TO_BLING_CONTACTS,))
    try:
        body_of = lambda n: json.dumps(  # noqa: E731
            {"event_id": f"rp-{n}", "type": "bling.contact.changed", "entity_id": str(n), "tenant": "acme"}
        ).encode()
        headers = {
            "x-consumer": TO_BLING_CONTACTS.name,
            "x-error-class": "ApiUnavailable",
            "x-error-message": "Bling answered 503",
            "x-hint": "retry later",
            "x-attempts": 5,
        }
        start = time.perf_counter()
        with DlqSession(amqp_url, topology) as session:
            for n in range(count):
                session.put(
                    DeadLetter.from_message(
                        body_of(n),
                        {**headers, "x-dead-lettered-at": datetime.now(UTC).isoformat()},
                        routing_key="bling.contact.changed",
                    )
                )
        put_s = time.perf_counter() - start
        failures = Failures(store, lambda: DlqSession(amqp_url, topology), tenant="acme")
        start = time.perf_counter()
        seen, _ = failures.reindex()
        reindex_s = time.perf_counter() - start
        fp = DeadLetter.from_message(body_of(0), headers).fingerprint
        start = time.perf_counter()
        operation = failures.replay(Selection(IndexQuery(tenant="acme", fingerprint=fp)), "bench")
        replay_s = time.perf_counter() - start
        with DlqSession(amqp_url, topology) as session:
            dlq_left = session.depth()
            _, in_work, _ = session._read.queue_declare(
                queue=topology.name(TO_BLING_CONTACTS.name), passive=True
            )
        print(f"  put {count} into the DLQ: {count / put_s:7.0f} msg/s (one confirm each)")
        print(f"  reindex pass over {seen}: {seen / reindex_s:7.0f} msg/s")
        print(
            f"  replay group of {operation.total}: {operation.done / replay_s:7.0f} msg/s, "
            f"done {operation.done}, failed {operation.failed}; DLQ left {dlq_left}, work queue {in_work}"
        )
    finally:
        with Connection(amqp_url) as conn:
            channel = conn.channel()
            for queue in topology.all_queues((TO_BLING_CONTACTS,)):
                channel.queue_delete(queue.name)
            for exchange in (topology.events_exchange, topology.dlx):
                channel.exchange_delete(exchange.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--causes", type=int, default=20)
    parser.add_argument("--loads", type=int, default=40)
    parser.add_argument("--replay", type=int, default=10_000)
    parser.add_argument("--pg", default=None, help="a PostgreSQL server URL (else a SQLite file)")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672//")
    args = parser.parse_args()
    with database(args.pg) as url:
        store = Store(url)
        try:
            start = time.perf_counter()
            expected = write_index(store, args.rows, args.causes)
            print(
                f"{'PostgreSQL' if args.pg else 'SQLite'}: {args.rows} index rows, {args.causes} causes, "
                f"written in {time.perf_counter() - start:.1f} s"
            )
            pages(store, url, expected, args.loads)
            if args.replay:
                replay(store, args.amqp, args.replay)
        finally:
            store.dispose()


if __name__ == "__main__":
    main()
