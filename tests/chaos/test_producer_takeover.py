"""SIGKILL of a producer process that polls hundreds of companies (issue 20, item 3).

Two `auvo-bling produce` processes share the polling of a fleet of companies (simulators/fleet.py:
one Auvo server, an account per company) through the shared topology's poll shards, on the real
RabbitMQ and PostgreSQL. Every company gets a new customer; once each one's event is on the bus,
the process holding the most shards is killed with SIGKILL and every company gets another new
customer. The survivor must take every shard over within the lease, and every change of the
second wave must be published: none missed. Events are read from a queue of the test's own bound
to the events exchange (the consumers are not what this checks).

Companies: `CHAOS_PRODUCER_TENANTS` (default 500).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
import tomlkit

from infra.bus.topology import Topology
from infra.store import Store
from producers.poll_shards import SHARD_PREFIX
from simulators.fleet import Fleet, make_fleet
from simulators.seed import seed_auvo_customers
from simulators.server import serve_in_thread
from tests.support import pika_parameters

pytestmark = pytest.mark.integration

TENANTS = int(os.environ.get("CHAOS_PRODUCER_TENANTS", "500"))
SHARDS = 64
POLL_SECONDS = 3.0
LEASE_SECONDS = 30.0  # max(30, 6 x poll interval): PollShards' ttl for these settings


@pytest.fixture
def fleet() -> Iterator[tuple[Fleet, str]]:
    fleet = make_fleet(TENANTS, customers=0, auvo_requests_per_minute=6000)
    server = serve_in_thread(fleet.auvo_app())
    try:
        yield fleet, server.url
    finally:
        server.stop()


def _config(path: Path, fleet: Fleet, auvo_url: str, amqp_url: str, pg_url: str, prefix: str) -> Path:
    sections = fleet.tenant_sections(auvo_url, "http://127.0.0.1:9")  # Bling is never called here
    for section in sections.values():
        section["customers"] = {"direction": "auvo_to_bling"}
        section["tasks"] = {"enabled": False}
        section["poll"] = {"interval_seconds": POLL_SECONDS, "max_interval_seconds": POLL_SECONDS}
    values: dict[str, Any] = {
        "AMQP_URL": amqp_url,
        "DATABASE_URL": pg_url,
        "secret_key": "chaos-secret-key",
        "tenant_enabled": False,
        "log_level": "warning",
        "bus": {
            "prefix": prefix,
            "topology": "shared",
            "retry_delays_seconds": [1.0, 5.0],
            "poll_shards": SHARDS,
        },
        # one egress address for the whole fleet: Auvo's limit is held per key (the fleet's accounts)
        "egress": {"auvo_requests_per_minute": 0},
        "tenants": sections,
    }
    path.write_text(tomlkit.dumps(values), encoding="utf-8")
    return path


def _produce(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUVO_BLING_")}
    env.pop("AMQP_URL", None)
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "auvo_bling.cli", "produce", "-c", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )


class Capture:
    """A classic queue of the test's own, bound to every event the producers publish."""

    def __init__(self, amqp_url: str, prefix: str) -> None:
        self.connection = pika.BlockingConnection(pika_parameters(amqp_url))
        self.channel = self.connection.channel()
        self.name = f"{prefix}capture"
        self.exchange = f"{prefix}auvo-bling.events"
        self.channel.exchange_declare(self.exchange, "topic", durable=True)
        self.channel.queue_declare(self.name, auto_delete=False)
        self.channel.queue_bind(self.name, self.exchange, routing_key="#")
        self.seen: set[tuple[str, str]] = set()

    def drain(self) -> set[tuple[str, str]]:
        while True:
            method, _, body = self.channel.basic_get(self.name, auto_ack=True)
            if method is None:
                return self.seen
            envelope = json.loads(body)
            self.seen.add((envelope["tenant"], str(envelope["entity_id"])))

    def close(self) -> None:
        self.channel.queue_delete(self.name)
        self.connection.close()


def _wave(fleet: Fleet, seed: int) -> set[tuple[str, str]]:
    changes = set()
    for index, account in enumerate(fleet.accounts):
        [customer] = seed_auvo_customers(account.auvo, 1, rng_seed=seed * 100_000 + index)
        changes.add((account.name, str(customer["id"])))
    return changes


def _shard_owners(store: Store) -> dict[str, str]:
    return store.lease_holders(SHARD_PREFIX)


def _wait(
    condition: Any, timeout: float, what: str, children: list[subprocess.Popen[bytes]], log: Path
) -> float:
    started = time.monotonic()
    while not condition():
        for child in children:
            if child.poll() is not None:
                raise AssertionError(f"a producer exited ({child.returncode}): {log.read_text()[-3000:]}")
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}; log: {log.read_text()[-3000:]}"
            )
        time.sleep(0.5)
    return time.monotonic() - started


def test_sigkill_of_a_producer_polling_hundreds_of_companies_misses_no_change(
    fleet: tuple[Fleet, str], amqp_url: str, pg_url: str, tmp_path: Path
) -> None:
    companies, auvo_url = fleet
    prefix = f"pk{uuid.uuid4().hex[:6]}."
    config = _config(tmp_path / "fleet.toml", companies, auvo_url, amqp_url, pg_url, prefix)
    log = tmp_path / "produce.log"
    capture = Capture(amqp_url, prefix)
    store = Store(pg_url)
    children = [_produce(config, log), _produce(config, log)]
    try:
        # both processes up, each with its fair share of the shards
        _wait(
            lambda: len(_shard_owners(store)) == SHARDS and len(set(_shard_owners(store).values())) == 2,
            120,
            "both producers holding shards",
            children,
            log,
        )
        first = _wave(companies, 1)
        _wait(lambda: first <= capture.drain(), 90, "the first wave published", children, log)

        owners = _shard_owners(store)
        by_pid = {int(owner.split(":")[1]): owner for owner in set(owners.values())}
        victim = max(children, key=lambda c: sum(1 for o in owners.values() if o == by_pid.get(c.pid)))
        survivor = next(c for c in children if c is not victim)
        victim_shards = sum(1 for o in owners.values() if o == by_pid[victim.pid])
        assert 0 < victim_shards < SHARDS
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()
        second = _wave(companies, 2)  # made while the victim's shards have nobody polling them

        takeover = _wait(
            lambda: (
                set(_shard_owners(store).values()) == {by_pid[survivor.pid]}
                and len(_shard_owners(store)) == SHARDS
            ),
            LEASE_SECONDS + 5,
            "the survivor holding every shard",
            [survivor],
            log,
        )
        _wait(lambda: second <= capture.drain(), 90, "the second wave published", [survivor], log)
        published_in = time.monotonic() - killed_at
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
        capture.close()
        store.dispose()
        _delete_topology(amqp_url, prefix)
    missed = second - capture.seen
    assert not missed, f"{len(missed)} changes never published"
    print(
        f"\nPRODUCER TAKEOVER tenants={TENANTS} shards={SHARDS} victim_shards={victim_shards} "
        f"takeover_s={takeover:.1f} (lease {LEASE_SECONDS:.0f}) "
        f"second_wave_published_s={published_in:.1f} missed=0"
    )


def _delete_topology(amqp_url: str, prefix: str) -> None:
    topology = Topology(prefix=prefix, shared=True, retry_delays=[1.0, 5.0])
    with pika.BlockingConnection(pika_parameters(amqp_url)) as conn:
        channel = conn.channel()
        for queue in topology.all_queues():
            channel.queue_delete(queue.name)
        for exchange in (topology.events_exchange.name, topology.dlx.name):
            channel.exchange_delete(exchange)
