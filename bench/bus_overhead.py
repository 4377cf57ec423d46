"""Bus overhead: our publisher and consumer runner against raw pika, measured in one run.

Same broker, same 1 KiB persistent messages, quorum queues, a confirm per published message,
an ack per consumed message at prefetch 100. Prints messages/s for each and the ratios
(ours / raw pika). Usage:

    python bench/bus_overhead.py [--messages 5000] [--amqp-url amqp://guest:guest@127.0.0.1:5672//]
"""

from __future__ import annotations

import argparse
import platform
import threading
import time
import uuid

import pika
from kombu import Connection

from contracts.envelope import Envelope, event_id_for, utcnow
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker
from infra.bus.topology import TO_BLING_CONTACTS, Topology
from infra.logging import configure_logging

PAYLOAD = "x" * 700  # with the envelope around it, about 1 KiB on the wire


def envelope(i: int) -> Envelope:
    return Envelope(
        event_id=event_id_for("bench", str(i), "1"),
        type=TO_BLING_CONTACTS.event_type,
        occurred_at=utcnow(),
        source="bench",
        entity_id=str(i),
        entity_version="1",
        payload={"pad": PAYLOAD},
    )


def pika_params(url: str) -> pika.URLParameters:
    return pika.URLParameters(url[:-1] + "%2F" if url.endswith("//") else url)


def bench_ours_batched(url: str, n: int, batch: int = 100) -> float:
    """Publish rate of `Publisher.publish_batch` (confirms pipelined per batch)."""
    topology = Topology(prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    with Connection(url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    publisher = Publisher(url, topology)
    bodies = [envelope(i) for i in range(n)]
    started = time.perf_counter()
    for i in range(0, n, batch):
        publisher.publish_batch(bodies[i : i + batch])
    rate = n / (time.perf_counter() - started)
    publisher.close()
    _delete(url, topology)
    return rate


def _delete(url: str, topology: Topology) -> None:
    with Connection(url) as conn, conn.channel() as channel:
        for queue in topology.all_queues((TO_BLING_CONTACTS,)):
            channel.queue_delete(queue.name)
        channel.exchange_delete(topology.events_exchange.name)
        channel.exchange_delete(topology.dlx.name)


def bench_ours(url: str, n: int) -> tuple[float, float]:
    topology = Topology(prefix=f"bench-{uuid.uuid4().hex[:6]}.")
    with Connection(url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    publisher = Publisher(url, topology)
    bodies = [envelope(i) for i in range(n)]
    started = time.perf_counter()
    for env in bodies:
        publisher.publish(env)
    publish_rate = n / (time.perf_counter() - started)

    done = threading.Event()
    count = 0

    def handler(_: Envelope) -> str:
        nonlocal count
        count += 1
        if count >= n:
            done.set()
        return "created"

    worker = QueueWorker(url, topology, {TO_BLING_CONTACTS: handler}, publisher, prefetch=100)
    thread = threading.Thread(target=worker.run, daemon=True)
    started = time.perf_counter()
    thread.start()
    done.wait(600)
    consume_rate = n / (time.perf_counter() - started)
    worker.stop()
    thread.join(10)
    publisher.close()
    _delete(url, topology)
    return publish_rate, consume_rate


def bench_pika(url: str, n: int) -> tuple[float, float]:
    queue = f"bench-pika-{uuid.uuid4().hex[:6]}"
    body = envelope(0).to_json()
    conn = pika.BlockingConnection(pika_params(url))
    channel = conn.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    started = time.perf_counter()
    for _ in range(n):
        channel.basic_publish("", queue, body, props)  # returns after the broker's confirm
    publish_rate = n / (time.perf_counter() - started)

    channel.basic_qos(prefetch_count=100)
    received = 0
    started = time.perf_counter()
    for method, _props, _body in channel.consume(queue, inactivity_timeout=5):
        if method is None:
            break
        channel.basic_ack(method.delivery_tag)
        received += 1
        if received >= n:
            break
    consume_rate = received / (time.perf_counter() - started)
    channel.cancel()
    channel.queue_delete(queue)
    conn.close()
    return publish_rate, consume_rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--log-level", default="warning", help="info adds one log line per message")
    args = parser.parse_args()
    configure_logging("json", args.log_level)
    n = args.messages
    pika_pub, pika_con = bench_pika(args.amqp_url, n)
    our_pub, our_con = bench_ours(args.amqp_url, n)
    our_batched = bench_ours_batched(args.amqp_url, n)
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"{n} persistent ~1 KiB messages, quorum queue, confirm per publish, ack per message, prefetch 100")
    rows = (
        ("publish", pika_pub, our_pub),
        ("publish, pipelined batches of 100", pika_pub, our_batched),
        ("consume", pika_con, our_con),
    )
    for label, raw, ours in rows:
        print(f"{label}  raw pika {raw:8.0f} msg/s   ours {ours:8.0f} msg/s   ratio {ours / raw:.2f}x")


if __name__ == "__main__":
    main()
