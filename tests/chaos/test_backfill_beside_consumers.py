"""`auvo-bling backfill` beside live `produce` and two `consume` processes, with late Bling creates.

What a new user does (issue 15): `auvo-bling run` in one terminal, `auvo-bling backfill` in the
other. Both paths write the same records, so they must exclude each other: the backfill writes
through the consumers' writers (same entity lock, same write intent, same create-in-doubt wait).
A tenth of the creates on the target side are answered after the client gave up (the record is
stored, the answer comes late): Bling's `POST /contatos`, the case that made the old backfill
create a second contato, and Auvo's `PUT /customers/` (an upsert by externalId).

Real RabbitMQ and PostgreSQL, every process a real `auvo-bling` subprocess; 300 customers, a third
without a CPF/CNPJ (matched by e-mail), in each direction mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from simulators.seed import seed_auvo_customers, seed_bling_contacts
from tests.support import Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration

TOTAL = 300
CLIENT_TIMEOUT = 1.0
LATE_BY = CLIENT_TIMEOUT + 0.8  # stored by Bling 0.8 s after the client gave up


def seed(sims: Simulators, direction: str) -> tuple[int, int]:
    """300 customers on the source side(s), every third without a document; (auvo, bling) counts."""
    auvo_n = {"auvo_to_bling": TOTAL, "bling_to_auvo": 0, "both": TOTAL // 2}[direction]
    bling_n = {"auvo_to_bling": 0, "bling_to_auvo": TOTAL, "both": TOTAL // 2}[direction]
    for i, customer in enumerate(seed_auvo_customers(sims.auvo, auvo_n, rng_seed=31)):
        if i % 3 == 0:
            with sims.auvo.lock:
                sims.auvo.customers[customer["id"]]["cpfCnpj"] = ""
    for i, contact in enumerate(seed_bling_contacts(sims.bling, bling_n, rng_seed=32)):
        if i % 3 == 0:
            with sims.bling.lock:
                sims.bling.contacts[contact["id"]]["numeroDocumento"] = ""
    return auvo_n, bling_n


def contatos(sims: Simulators) -> list[dict[str, Any]]:
    with sims.bling.lock:
        return [dict(c) for c in sims.bling.contacts.values()]


def customers(sims: Simulators) -> list[dict[str, Any]]:
    with sims.auvo.lock:
        return [dict(c) for c in sims.auvo.customers.values()]


@pytest.fixture
def world(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[dict[str, Any]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield {"amqp_url": amqp_url, "pg_url": pg_url, "prefix": bus_prefix, "processes": processes}
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.parametrize("direction", ["auvo_to_bling", "bling_to_auvo", "both"])
def test_backfill_beside_two_consumers_creates_every_customer_exactly_once(
    world: dict[str, Any], sims: Simulators, direction: str
) -> None:
    auvo_n, bling_n = seed(sims, direction)
    if bling_n < TOTAL:  # contatos are created in Bling
        sims.bling_gate.stall_share("POST", "/contatos", 0.10, LATE_BY, seed=5)  # type: ignore[attr-defined]
    if auvo_n < TOTAL:  # customers are created in Auvo
        sims.auvo_gate.stall_share("PUT", "/customers/", 0.10, LATE_BY, seed=6)  # type: ignore[attr-defined]
    settings = build_settings(
        world["amqp_url"],
        world["pg_url"],
        sims,
        customers={"direction": direction},
        bus={"prefix": world["prefix"], "retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5},
    )
    app = App(settings)
    authorize_headless(app)
    app.declare_topology()
    app.close()
    env = {
        **os.environ,
        **sims.env(),
        "AMQP_URL": world["amqp_url"],
        "DATABASE_URL": world["pg_url"],
        "AUVO_BLING_SECRET_KEY": settings.secret_key.get_secret_value(),
        "AUVO_BLING_BUS__PREFIX": world["prefix"],
        "AUVO_BLING_BUS__RETRY_DELAYS_SECONDS": "[0.3, 0.6, 1.0]",
        "AUVO_BLING_BUS__MAX_ATTEMPTS": "5",
        "AUVO_BLING_BLING__TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
        "AUVO_BLING_AUVO__TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
        "AUVO_BLING_CUSTOMERS__DIRECTION": direction,
        "AUVO_BLING_POLL__INTERVAL_SECONDS": "0.5",
        "AUVO_BLING_POLL__OVERLAP_SECONDS": "5",
        "AUVO_BLING_LOG_FORMAT": "json",
        "AUVO_BLING_LOG_LEVEL": "warning",
    }
    cli = [sys.executable, "-m", "auvo_bling.cli"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    for command in (["produce"], ["consume"], ["consume"]):
        world["processes"].append(subprocess.Popen(cli + command, **quiet))  # type: ignore[call-overload]
    time.sleep(1.0)  # the live flow is under way when the backfill starts
    backfill = subprocess.run(
        [*cli, "backfill", "--json", "--quiet"], env=env, capture_output=True, timeout=240, check=False
    )
    summary = json.loads(backfill.stdout) if backfill.stdout.strip().startswith(b"{") else {}

    assert backfill.returncode == 0, backfill.stderr.decode()[-2000:]
    expected = auvo_n + bling_n  # every record on both sides, once
    wait_until(
        lambda: len(contatos(sims)) >= expected and len(customers(sims)) >= expected,
        120,
        f"{expected} records on each side",
    )
    time.sleep(3.0)  # late creates and echoes settle

    markers = Counter(c["codigo"] for c in contatos(sims) if str(c.get("codigo", "")).startswith("AUVO-"))
    external = Counter(
        str(c["externalId"]) for c in customers(sims) if str(c.get("externalId") or "").isdigit()
    )
    assert max(markers.values(), default=1) == 1, f"duplicate contatos: {markers.most_common(3)}"
    assert max(external.values(), default=1) == 1, f"duplicate Auvo customers: {external.most_common(3)}"
    assert len(contatos(sims)) == expected, "a contato too many (or missing)"
    assert len(customers(sims)) == expected, "an Auvo customer too many (or missing)"
    assert sims.bling_gate.stalled + sims.auvo_gate.stalled > 0  # type: ignore[attr-defined]
    assert summary.get("failed") == []
