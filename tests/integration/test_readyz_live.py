"""`/readyz` of a real process (real RabbitMQ, PostgreSQL, simulators): ready only while working."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kombu import Connection

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.tenancy import Deployment
from contracts.events import auvo_customer_changed
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker
from infra.bus.topology import TO_BLING_CONTACTS, Topology
from infra.health import assess
from infra.metrics import start_metrics_server
from tests.ops_support import logs_aside
from tests.support import Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[Deployment]:
    settings = build_settings(
        amqp_url, pg_url, sims, bus={"prefix": bus_prefix, "retry_delays_seconds": [0.3], "max_attempts": 3}
    )
    deployment = Deployment.of(settings)
    for app in deployment.apps:
        authorize_headless(app)
    yield deployment
    deployment.close()


def readyz(url: str) -> tuple[int, str]:
    answer = httpx.get(f"{url}/readyz", timeout=5)
    return answer.status_code, answer.text


def test_readyz_follows_a_pause_and_a_dead_consumer_thread(deployment: Deployment) -> None:
    app = deployment.apps[0]
    with logs_aside():
        running = start(deployment.apps, poll_interval=0.3, worker_threads=2)
        server = start_metrics_server(0, ready=running.readiness)
        try:
            wait_until(
                lambda: readyz(server.url) == (200, "ready\n"), 20, "consumers connected, pollers passing"
            )

            deployment.store.pause_tenant(app.tenant, "AuvoApiDeactivated", "deactivated", "activate it")
            wait_until(lambda: readyz(server.url)[0] == 503, 10, "503 while paused")
            wait_until(lambda: not running.consumers[0].current, 10, "consumers stopped for the pause")
            status, body = readyz(server.url)
            lines = body.splitlines()
            assert lines[0] == "not ready" and lines[1].startswith("tenant default: paused since ")
            assert lines[1].endswith("(AuvoApiDeactivated); `tenants resume` lifts it")
            assert lines[2:] == ["consumers of tenant default: none running"]

            deployment.store.resume_tenant(app.tenant)
            wait_until(lambda: readyz(server.url) == (200, "ready\n"), 20, "ready again after resume")

            # a consumer thread ends while the process goes on: not doing its job
            worker, thread = running.consumers[0].current[1]
            worker.stop()
            thread.join(10)
            status, body = readyz(server.url)
            assert (status, body) == (503, "not ready\nconsumer default-1: thread died\n")
        finally:
            server.stop()
            running.stop()


def test_a_consumer_that_cannot_reach_the_broker_is_not_ready(amqp_url: str, bus_prefix: str) -> None:
    wrong = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens there: connection refused
    topology = Topology(prefix=bus_prefix)
    worker = QueueWorker(
        wrong, topology, {TO_BLING_CONTACTS: lambda e: "created"}, Publisher(wrong, topology)
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    with logs_aside():
        thread.start()
        try:
            wait_until(lambda: worker.connection_error is not None, 10, "a failed connection attempt")
            [reason] = assess(consumers={"default": [(worker, thread)]}).reasons
            assert reason.startswith("consumer default-0: broker connection down (")
            assert "refused" in reason.lower()
        finally:
            worker.stop()
            thread.join(15)
        assert not thread.is_alive()  # a stop ends the reconnect loop, the broker need not come back

    # the same worker on the real broker is ready once it consumes, and down again once stopped
    good = QueueWorker(
        amqp_url, topology, {TO_BLING_CONTACTS: lambda e: "created"}, Publisher(amqp_url, topology)
    )
    with Connection(amqp_url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    thread = threading.Thread(target=good.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: good.connected, 10, "consuming")
        assert assess(consumers={"default": [(good, thread)]}).ready
    finally:
        good.stop()
        thread.join(15)
        good.publisher.close()
    assert not good.connected


class Watched(QueueWorker):
    """Keeps the live connection, to cut it under the worker's feet."""

    readies = 0
    live: Any = None

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self.live = connection
        self.readies += 1
        super().on_consume_ready(connection, channel, consumers, **kwargs)


def test_a_lost_connection_is_down_until_the_worker_reconnects(amqp_url: str, bus_prefix: str) -> None:
    """The socket dies (as when the broker goes away): the worker reconnects by itself and is
    connected (ready) again; stopping still works afterwards."""
    topology = Topology(prefix=bus_prefix)
    handled: list[str] = []
    publisher = Publisher(amqp_url, topology)
    worker = Watched(
        amqp_url, topology, {TO_BLING_CONTACTS: lambda e: handled.append(e.event_id) or "created"}, publisher
    )
    with Connection(amqp_url) as conn:
        topology.declare(conn, (TO_BLING_CONTACTS,))
    thread = threading.Thread(target=worker.run, daemon=True)
    with logs_aside():
        thread.start()
        try:
            wait_until(lambda: worker.connected, 10, "consuming")
            worker.live.connection.sock.shutdown(socket.SHUT_RDWR)
            wait_until(lambda: worker.readies == 2 and worker.connected, 30, "reconnected")
            assert assess(consumers={"default": [(worker, thread)]}).ready
            publisher.publish(auvo_customer_changed({"id": 7, "description": "C7", "email": []}))
            wait_until(lambda: len(handled) == 1, 20, "an event handled on the new connection")
        finally:
            worker.stop()
            thread.join(15)
            publisher.close()
    assert not thread.is_alive() and not worker.connected
