"""The deployable RabbitMQ definitions file matches what the code declares."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from kombu import Connection

from infra.bus.definitions import default_definitions
from infra.bus.topology import Topology
from infra.settings import BusSettings

pytestmark = pytest.mark.integration

DEFINITIONS = Path(__file__).resolve().parents[2] / "infra" / "rabbitmq-definitions.json"


def test_committed_definitions_are_the_generated_ones() -> None:
    """Regenerate with `python -m infra.bus.definitions > infra/rabbitmq-definitions.json`."""
    assert json.loads(DEFINITIONS.read_text()) == default_definitions()


def rabbitmqctl(*args: str) -> str:
    binary = shutil.which("rabbitmqctl")
    assert binary, "rabbitmqctl is needed to import definitions into the local broker"
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_code_declares_on_top_of_imported_definitions_without_conflict(amqp_url: str) -> None:
    """Import the file into a fresh vhost, then declare from code: any differing argument would
    make the broker close the channel with PRECONDITION_FAILED."""
    vhost = f"ab-defs-{uuid.uuid4().hex[:8]}"
    document = json.loads(DEFINITIONS.read_text().replace('"vhost": "/"', f'"vhost": "{vhost}"'))
    document["vhosts"] = [{"name": vhost}]
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        # rabbitmqctl runs as the broker's own user: the file must be readable by it
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir="/tmp", delete=False) as fh:
            json.dump(document, fh)
        os.chmod(fh.name, 0o644)
        try:
            rabbitmqctl("import_definitions", fh.name)
        finally:
            os.unlink(fh.name)
        queues = rabbitmqctl("list_queues", "-p", vhost, "name", "--quiet", "--no-table-headers")
        assert len(queues.split()) == len(document["queues"])
        base = amqp_url[: amqp_url.index("/", amqp_url.index("//") + 2)]  # scheme://user:pass@host:port
        with Connection(f"{base}/{vhost}") as conn:
            Topology.from_settings(BusSettings()).declare(conn)
            with conn.channel() as channel:
                _, ready, consumers = channel.queue_declare("to-bling.contacts", passive=True)
        assert (ready, consumers) == (0, 0)
    finally:
        rabbitmqctl("delete_vhost", vhost)


def test_changing_the_backoff_steps_of_a_running_deployment_declares_cleanly(
    amqp_url: str, bus_prefix: str
) -> None:
    """Delay queues are named by their delay, so new steps are new queues, not a TTL clash."""
    with Connection(amqp_url) as conn:
        Topology.from_settings(BusSettings(prefix=bus_prefix, retry_delays_seconds=[5, 30])).declare(conn)
        Topology.from_settings(BusSettings(prefix=bus_prefix, retry_delays_seconds=[2, 30, 90])).declare(conn)
        with conn.channel() as channel:
            for name in ("to-bling.contacts.retry.5000ms", "to-bling.contacts.retry.2000ms"):
                channel.queue_declare(f"{bus_prefix}{name}", passive=True)
            for topology in (
                Topology.from_settings(BusSettings(prefix=bus_prefix, retry_delays_seconds=[5, 30])),
                Topology.from_settings(BusSettings(prefix=bus_prefix, retry_delays_seconds=[2, 30, 90])),
            ):
                for queue in topology.all_queues():
                    channel.queue_delete(queue.name)
