"""Consumer memory over many events: RSS sampled while one consumer handles N events.

Real RabbitMQ (pipelined publish of N `auvo.customer.changed` events), the real runner and the real
customer handler with its SQLite store; only Bling's HTTP API is replaced by an in-memory stand-in
(`bench/consumer_cpu.py`), so what grows, if anything, is ours. Prints RSS every tenth of the run.

    python bench/consumer_memory.py [--events 50000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from kombu import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consumer_cpu import InMemoryBling, events

from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker
from infra.bus.topology import TO_BLING_CONTACTS, Topology
from infra.logging import configure_logging
from infra.store import Store


def rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672//")
    args = parser.parse_args()
    configure_logging("json", "error")
    n = args.events
    topology = Topology(prefix=f"bench-mem-{uuid.uuid4().hex[:6]}.")
    with Connection(args.amqp_url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    publisher = Publisher(args.amqp_url, topology)
    for i in range(0, n, 1000):
        publisher.publish_batch(events(min(1000, n - i), start=i))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'mem.sqlite3'}")
        handler = AuvoCustomerToBlingContact(store, InMemoryBling(keep=False))
        done = threading.Event()
        handled = 0

        def counted(envelope: object) -> str:
            nonlocal handled
            result = handler(envelope)  # type: ignore[arg-type]
            handled += 1
            if handled >= n:
                done.set()
            return result

        worker = QueueWorker(args.amqp_url, topology, {TO_BLING_CONTACTS: counted}, publisher, prefetch=100)
        thread = threading.Thread(target=worker.run, daemon=True)
        started = time.monotonic()
        thread.start()
        samples: list[tuple[int, float]] = []
        next_mark = 0
        while not done.wait(0.2):
            if handled >= next_mark:
                samples.append((handled, rss_mib()))
                next_mark += max(1, n // 10)
        samples.append((handled, rss_mib()))
        worker.stop()
        thread.join(10)
        store.dispose()
    publisher.close()
    with Connection(args.amqp_url) as conn, conn.channel() as channel:
        for queue in topology.all_queues((TO_BLING_CONTACTS,)):
            channel.queue_delete(queue.name)
    print(f"{n} events through one consumer in {time.monotonic() - started:.0f} s")
    for count, rss in samples:
        print(f"  after {count:6d} events: RSS {rss:6.1f} MiB")
    first = next((rss for count, rss in samples if count >= n // 10), samples[0][1])
    print(f"RSS after the first tenth {first:.1f} MiB, at the end {samples[-1][1]:.1f} MiB")


if __name__ == "__main__":
    main()
