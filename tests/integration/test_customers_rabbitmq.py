"""The customer flows on the real RabbitMQ and PostgreSQL, through both simulators."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest
from kombu.message import Message

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from consumers.base import Handler
from consumers.customers.mapping import AUVO_MARKER_PREFIX
from infra.bus.runner import QueueWorker
from infra.bus.topology import TO_BLING_CONTACTS, WorkQueue
from simulators.seed import seed_auvo_customers, seed_bling_contacts
from tests.support import Simulators, build_settings, pika_parameters, wait_until

pytestmark = pytest.mark.integration


def bling_markers(sims: Simulators) -> Counter[str]:
    with sims.bling.lock:
        return Counter(
            c["codigo"] for c in sims.bling.contacts.values() if str(c.get("codigo", "")).startswith("AUVO-")
        )


def bling_writes(sims: Simulators, method: str) -> int:
    return sum(n for (m, resource), n in sims.bling.writes.items() if m == method and "contatos" in resource)


def auvo_writes(sims: Simulators, method: str) -> int:
    return sum(n for (m, resource), n in sims.auvo.writes.items() if m == method and "customers" in resource)


@pytest.fixture
def app_factory(
    amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str
) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        overrides.setdefault("customers", {"direction": "auvo_to_bling"})
        bus = {"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix}
        bus.update(overrides.pop("bus", {}))
        app = App(build_settings(amqp_url, pg_url, sims, bus=bus, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


class RedeliverOnce(QueueWorker):
    """Handles every message, then requeues it the first time instead of acking: a true redelivery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requeued: set[str] = set()
        self.redelivered = 0

    def process(self, wq: WorkQueue, message: Message) -> None:
        handler = self.handlers[wq]
        key = str(message.properties.get("message_id") or message.body)
        if message.delivery_info.get("redelivered"):
            self.redelivered += 1
        if key not in self.requeued:
            self.requeued.add(key)
            handler_result = _handle_without_ack(handler, message)
            assert handler_result in {"created", "updated", "unchanged", "linked"}, handler_result
            message.requeue()
            return
        super().process(wq, message)


def _handle_without_ack(handler: Handler, message: Message) -> str:
    from contracts.envelope import Envelope

    return handler(Envelope.from_json(message.body))


def test_every_event_delivered_twice_yields_one_contact_per_customer(
    app_factory: Callable[..., App], sims: Simulators
) -> None:
    customers = seed_auvo_customers(sims.auvo, 40, rng_seed=11)
    app = app_factory()
    authorize_headless(app)
    app.declare_topology()
    publisher = app.publisher()
    [poller] = app.pollers(publisher)
    assert poller.poll_once() == 40
    # the producer also publishes everything a second time (a re-poll after a crash)
    poller.recent = type(poller.recent)()
    app.store.set_cursor(app.tenant, "auvo.customers.dateLastUpdate", "2000-01-01T00:00:00")
    assert poller.poll_once() == 40

    worker = RedeliverOnce(app.settings.amqp_url, app.topology, app.handlers(), app.publisher(), prefetch=10)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: sum(worker.stats.values()) >= 80 and worker.redelivered >= 40, 60, "all deliveries"
        )
    finally:
        worker.stop()
        thread.join(10)

    markers = bling_markers(sims)
    assert set(markers) == {f"{AUVO_MARKER_PREFIX}{c['id']}" for c in customers}
    assert max(markers.values()) == 1, "a customer was created twice in Bling"
    assert bling_writes(sims, "POST") == 40
    assert worker.redelivered >= 40  # the broker really redelivered each event
    assert worker.stats["skipped_duplicate"] == 80  # 40 redeliveries + 40 re-published copies


def test_malformed_message_is_dead_lettered_and_consumer_keeps_going(
    app_factory: Callable[..., App], sims: Simulators, amqp_url: str
) -> None:
    seed_auvo_customers(sims.auvo, 5, rng_seed=12)
    app = app_factory()
    authorize_headless(app)
    app.declare_topology()
    # an independent AMQP client puts garbage on the bus, then real events follow
    params = pika_parameters(amqp_url)
    with pika.BlockingConnection(params) as conn:
        ch = conn.channel()
        ch.confirm_delivery()
        for body in (b"{not json", json.dumps({"event_id": "x", "type": "auvo.customer.changed"}).encode()):
            ch.basic_publish(
                app.topology.events_exchange.name,
                "auvo.customer.changed",
                body,
                pika.BasicProperties(delivery_mode=2, content_type="application/json"),
            )
    publisher = app.publisher()
    [poller] = app.pollers(publisher)
    poller.poll_once()
    running = start(app, producers=False)
    try:
        wait_until(lambda: len(bling_markers(sims)) == 5, 30, "the 5 valid customers")
    finally:
        running.stop()
    assert running.consumer_stats()["dead_lettered"] == 2

    with pika.BlockingConnection(params) as conn:
        ch = conn.channel()
        dead = []
        while True:
            method, props, body = ch.basic_get(app.topology.dlq.name, auto_ack=True)
            if method is None:
                break
            dead.append((props.headers, body))
    assert [body for _, body in dead] == [
        b"{not json",
        json.dumps({"event_id": "x", "type": "auvo.customer.changed"}).encode(),
    ]
    for headers, _ in dead:
        assert headers["x-error-class"] == "ContractViolation"
        assert headers["x-consumer"] == TO_BLING_CONTACTS.name
        assert headers["x-original-routing-key"] == "auvo.customer.changed"
        assert headers["x-hint"]
    assert "not JSON" in dead[0][0]["x-error-message"]
    assert "invalid envelope" in dead[1][0]["x-error-message"]


def test_transient_failures_retry_through_delay_queues_then_succeed(
    app_factory: Callable[..., App], sims: Simulators
) -> None:
    seed_auvo_customers(sims.auvo, 6, rng_seed=13)
    app = app_factory(bus={"max_attempts": 12})
    authorize_headless(app)
    app.declare_topology()
    [poller] = app.pollers(app.publisher())
    poller.poll_once()
    sims.bling.faults.configure(error_rate=0.3, seed=7)  # a third of the Bling calls answer 5xx
    running = start(app, producers=False)
    try:
        wait_until(lambda: len(bling_markers(sims)) == 6, 60, "6 customers despite 5xx")
    finally:
        running.stop()
        sims.bling.faults.configure(error_rate=0.0)
    stats = running.consumer_stats()
    assert stats["retried"] > 0
    assert stats.get("dead_lettered", 0) == 0
    assert max(bling_markers(sims).values()) == 1


def test_both_directions_sync_once_and_stop(app_factory: Callable[..., App], sims: Simulators) -> None:
    auvo_ids = [c["id"] for c in seed_auvo_customers(sims.auvo, 25, rng_seed=14)]
    bling_ids = [c["id"] for c in seed_bling_contacts(sims.bling, 25, rng_seed=15)]
    app = app_factory(customers={"direction": "both"})
    authorize_headless(app)
    running = start(app, poll_interval=0.3)

    def synced() -> bool:
        with sims.auvo.lock:
            external = {c.get("externalId") for c in sims.auvo.customers.values()}
        return len(bling_markers(sims)) == 25 and all(str(i) in external for i in bling_ids)

    try:
        wait_until(synced, 60, "both directions synced")
        time.sleep(3)  # let echoes come back around; nothing more may be written
        writes_after_sync = (bling_writes(sims, "POST"), bling_writes(sims, "PUT"), auvo_writes(sims, "PUT"))
        time.sleep(2)
        assert (
            bling_writes(sims, "POST"),
            bling_writes(sims, "PUT"),
            auvo_writes(sims, "PUT"),
        ) == writes_after_sync
    finally:
        running.stop()
    assert set(bling_markers(sims)) == {f"AUVO-{i}" for i in auvo_ids}
    assert bling_writes(sims, "POST") == 25 and bling_writes(sims, "PUT") == 0
    assert auvo_writes(sims, "PUT") == 25
    assert len(sims.auvo.customers) == 50 and len(sims.bling.contacts) == 50
    assert running.consumer_stats()["skipped_echo"] >= 25


def test_consumer_killed_with_sigkill_and_restarted_loses_and_duplicates_nothing(
    app_factory: Callable[..., App], sims: Simulators
) -> None:
    total = 120
    sims.bling.rate_limit_per_second = 15
    customers = seed_auvo_customers(sims.auvo, total, rng_seed=16)
    app = app_factory(bling={**app_factory_bling(sims), "requests_per_second": 15})
    authorize_headless(app)
    app.declare_topology()
    [poller] = app.pollers(app.publisher())
    assert poller.poll_once() == total

    env = {
        **os.environ,
        **sims.env(),
        "AUVO_BLING_BLING__REQUESTS_PER_SECOND": "15",
        "AMQP_URL": app.settings.amqp_url,
        "DATABASE_URL": app.settings.database_url,
        "AUVO_BLING_SECRET_KEY": app.settings.secret_key.get_secret_value(),
        "AUVO_BLING_BUS__PREFIX": app.settings.bus.prefix,
        "AUVO_BLING_BUS__RETRY_DELAYS_SECONDS": "[0.3, 0.6, 1.0]",
        "AUVO_BLING_CUSTOMERS__DIRECTION": "auvo_to_bling",
        "AUVO_BLING_LOG_FORMAT": "json",
    }
    command = [sys.executable, "-m", "auvo_bling.cli", "consume"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(bling_markers(sims)) >= 25, 60, "the first consumer to write 25 contacts")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = len(bling_markers(sims))
        assert killed_at < total, "the consumer finished before it could be killed"
        second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: len(bling_markers(sims)) == total, 90, "every customer after the restart")
            time.sleep(1.0)
        finally:
            second.terminate()
            second.wait(15)
    finally:
        if first.poll() is None:
            first.kill()
    markers = bling_markers(sims)
    assert set(markers) == {f"AUVO-{c['id']}" for c in customers}
    assert max(markers.values()) == 1, "duplicated after SIGKILL"
    assert bling_writes(sims, "POST") == total


def app_factory_bling(sims: Simulators) -> dict[str, Any]:
    return dict(sims.settings_overrides()["bling"])
