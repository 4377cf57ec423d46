"""`consume --processes N` for real: every child serves /readyz on its own port, SIGTERM ends all."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from auvo_bling.tenancy import Deployment
from tests.ops_support import config_for
from tests.support import Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration


def two_free_ports() -> int:
    """A port P with P and P + 1 both free (children serve metrics on port + index)."""
    for _ in range(50):
        port = random.randrange(20000, 40000)
        try:
            for p in (port, port + 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
        except OSError:
            continue
        return port
    raise AssertionError("no two free ports in a row")


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_each_child_serves_readyz_on_its_port_and_sigterm_stops_them_all(
    amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str, tmp_path: Path
) -> None:
    settings = build_settings(
        amqp_url, pg_url, sims, bus={"prefix": bus_prefix, "retry_delays_seconds": [0.3]}
    )
    deployment = Deployment.of(settings)
    app = deployment.apps[0]
    app.declare_topology()  # here, so the fixture records (and deletes) what the children declare
    config = config_for(app, tmp_path / "auvo-bling.toml")
    deployment.close()
    port = two_free_ports()
    env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URL", "DATABASE_URL")}
    env = {k: v for k, v in env.items() if not k.startswith("AUVO_BLING_")}
    command = [sys.executable, "-m", "auvo_bling.cli", "consume", "--config", str(config)]
    command += ["--processes", "2", "--metrics-port", str(port), "--metrics-host", "127.0.0.1"]
    log = tmp_path / "consume.log"  # a file, not a pipe: a full pipe would block the parent's logging
    with log.open("wb") as out:
        parent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=out)
    try:
        wait_until(lambda: ready(port) and ready(port + 1), 60, "both children ready on port and port + 1")
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(40) == 0
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
    assert not ready(port) and not ready(port + 1), log.read_text()  # the children went with the parent
