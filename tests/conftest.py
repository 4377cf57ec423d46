"""Shared fixtures: the real RabbitMQ and PostgreSQL (never skipped), simulators, isolated names.

RabbitMQ comes from `AMQP_URL` (default the local broker) and PostgreSQL from `DATABASE_URL`
(default the local `test` database). When either is unreachable the tests that need it FAIL
with the reason. Only when no URL was given and a Docker engine answers do we fall back to
testcontainers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from kombu import Connection

from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread
from tests.support import CLIENT_ID, CLIENT_SECRET, REDIRECT, Clock, Simulators

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0


def _broker_reachable(url: str) -> str | None:
    conn = Connection(url, connect_timeout=5)
    try:
        conn.ensure_connection(max_retries=2, interval_start=0.5, interval_step=0.5)
        return None
    except Exception as exc:
        return str(exc) or type(exc).__name__
    finally:
        conn.release()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    error = _broker_reachable(url)
    if error is None:
        yield url
        return
    if "AMQP_URL" not in os.environ and _docker_available():
        from testcontainers.rabbitmq import RabbitMqContainer  # optional fallback

        with RabbitMqContainer("rabbitmq:3.13-management") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}//"
        return
    pytest.fail(
        f"RabbitMQ is unreachable at {url}: {error} (start it: rabbitmq-server -detached)", pytrace=False
    )


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        yield url
        return
    except Exception as exc:
        error = str(exc).splitlines()[0]
    finally:
        engine.dispose()
    if "DATABASE_URL" not in os.environ and _docker_available():
        from testcontainers.postgres import PostgresContainer  # optional fallback

        with PostgresContainer("postgres:16") as container:
            yield container.get_connection_url().replace("+psycopg2", "")
        return
    pytest.fail(f"PostgreSQL is unreachable at {url}: {error}", pytrace=False)


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = f"ab_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        pg_server_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = pg_server_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_USED_PREFIXES: set[str] = set()


@pytest.fixture
def bus_prefix(amqp_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Unique exchange/queue names for one test on the shared broker; deleted afterwards.

    Every name the test's topologies declare is recorded (delay queues are named by their delay,
    so a test's own backoff steps make names the default topology does not know) and deleted at
    the end: quorum queues left behind pile up and slow the shared broker down.
    """
    from infra.bus.topology import ALL_WORK_QUEUES, Topology

    prefix = f"t{uuid.uuid4().hex[:8]}."
    _USED_PREFIXES.add(prefix)
    queues: set[str] = {q.name for q in Topology(prefix=prefix).all_queues()}
    exchanges: set[str] = {f"{prefix}auvo-bling.events", f"{prefix}auvo-bling.dlx"}
    declare = Topology.declare

    def recording_declare(self: Topology, connection: Any, work_queues: Any = ALL_WORK_QUEUES) -> None:
        if self.prefix:
            queues.update(q.name for q in self.all_queues(work_queues))
            exchanges.update({self.events_exchange.name, self.dlx.name})
        declare(self, connection, work_queues)

    monkeypatch.setattr(Topology, "declare", recording_declare)
    yield prefix
    _delete(amqp_url, queues, exchanges)


def _delete(amqp_url: str, queues: set[str], exchanges: set[str]) -> None:
    conn = Connection(amqp_url)
    try:
        channel = conn.channel()
        for name in sorted(queues):
            try:
                channel.queue_delete(name)
            except Exception:  # a queue this test never declared: the channel closed, reopen
                channel = conn.channel()
        for name in sorted(exchanges):
            try:
                channel.exchange_delete(name)
            except Exception:
                channel = conn.channel()
    finally:
        conn.release()


@pytest.fixture(scope="session", autouse=True)
def _sweep_left_over_test_queues() -> Iterator[None]:
    """At the end of the run, delete any queue of this run's prefixes that a subprocess declared
    with other settings (only where rabbitmqctl can list them; best effort)."""
    yield
    if not _USED_PREFIXES or shutil.which("rabbitmqctl") is None:
        return
    try:
        listed = subprocess.run(
            ["rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
        left = {name for name in listed if name.startswith(tuple(_USED_PREFIXES))}
        if left:
            _delete(os.environ.get("AMQP_URL", DEFAULT_AMQP_URL), left, set())
    except Exception:  # cleanup must never fail the run
        pass


@pytest.fixture
def sims() -> Iterator[Simulators]:
    auvo = AuvoState(rate_limit_per_minute=6000)
    bling = BlingState(rate_limit_per_second=40)
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    auvo_server = serve_in_thread(create_auvo_app(auvo))
    bling_server = serve_in_thread(create_bling_app(bling))
    try:
        yield Simulators(auvo, bling, auvo_server, bling_server)
    finally:
        auvo_server.stop()
        bling_server.stop()


@pytest.fixture
def clock(sims: Simulators) -> Clock:
    """The Auvo simulator's clock, moved by hand (`clock.tick()`)."""
    clock = Clock()
    sims.auvo.set_clock(clock)
    return clock
