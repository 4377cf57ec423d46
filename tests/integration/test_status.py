"""`auvo-bling status` on the real RabbitMQ and PostgreSQL: the numbers it prints are the real ones."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.bus.topology import TO_AUVO_CUSTOMERS
from simulators.seed import seed_auvo_customers
from simulators.server import serve_in_thread
from tests.ops_support import Cli, config_for, logs_aside, put_dead_letter, put_envelope, wait_until
from tests.support import Simulators, build_settings

pytestmark = pytest.mark.integration

AUVO_POLLER = "auvo.customers"


@pytest.fixture(autouse=True)
def _logs() -> Iterator[None]:
    with logs_aside():
        yield


@pytest.fixture
def make_app(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        overrides.setdefault("customers", {"direction": "auvo_to_bling"})
        bus = {"retry_delays_seconds": [0.3, 0.6, 1.0], "prefix": bus_prefix}
        bus.update(overrides.pop("bus", {}))
        app = App(build_settings(overrides.pop("amqp_url", amqp_url), pg_url, sims, bus=bus, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def bling_contacts(sims: Simulators) -> int:
    with sims.bling.lock:
        return sum(1 for c in sims.bling.contacts.values() if str(c.get("codigo", "")).startswith("AUVO-"))


def test_status_reports_queues_dead_letters_cursors_token_and_last_writes(
    make_app: Callable[..., App], sims: Simulators, tmp_path: Path
) -> None:
    app = make_app()
    cli = Cli(config_for(app, tmp_path / "status.toml"))
    seed_auvo_customers(sims.auvo, 3, rng_seed=31)
    authorize_headless(app)
    app.declare_topology()
    [poller] = [p for p in app.pollers(app.publisher()) if p.name == AUVO_POLLER]
    assert poller.poll_once() == 3
    running = start(app, producers=False)
    try:
        wait_until(lambda: bling_contacts(sims) == 3, 30, "3 contacts in Bling")
    finally:
        running.stop()
    publisher = app.publisher()
    for i in range(2):  # waiting for a consumer that is not running
        put_envelope(app, publisher, f"waiting-{i}", TO_AUVO_CUSTOMERS)
    for i, error in enumerate(("ApiRejected", "ApiRejected", "AuvoApiDeactivated")):
        put_dead_letter(app, event_id=f"dead-{i}", error_class=error)

    data = cli.json("status")
    assert data["errors"] == {}
    assert data["source"] in ("management", "passive")
    queues = {q["queue"]: q for q in data["queues"]}
    assert set(queues) == {
        "to-bling.contacts",
        "to-auvo.customers",
        "to-bling.orders",
        "to-bling.proposals",
        "to-bling.payables",
        "to-auvo.catalog",

        "to-auvo.task-outcomes",
    }
    assert queues["to-auvo.customers"]["ready"] == 2 and queues["to-auvo.customers"]["consumers"] == 0
    assert queues["to-bling.contacts"]["ready"] == 0 and queues["to-bling.contacts"]["retrying"] == 0
    assert all(q["exists"] for q in queues.values())
    if data["source"] == "passive":  # without the management plugin, unacked is unknown
        assert queues["to-auvo.customers"]["unacked"] is None
    else:  # the plugin answers on :15672 here; its samples of a new queue may not exist yet
        assert queues["to-auvo.customers"]["unacked"] in (0, None)
    assert data["dlq"] == {
        "queue": app.topology.dlq.name,
        "total": 3,
        "scanned": 3,
        "by_error_class": {"ApiRejected": 2, "AuvoApiDeactivated": 1},
    }
    [cursor] = [c for c in data["pollers"] if c["cursor"] != "auvo.customers.indexed"]
    assert cursor["cursor"] == "auvo.customers.dateLastUpdate" and 0 <= cursor["seconds_since_advanced"] < 60
    assert data["bling_token"]["authorized"] and data["bling_token"]["expires_in_seconds"] > 0
    assert data["bling_token"]["refresh_from"] < data["bling_token"]["expires_at"]
    assert data["egress"]["group"] == "default"
    assert {k: v["limit"] for k, v in data["egress"].items() if k != "group"} == {
        "token_calls_60s": 15,
        "requests_10s": 500,
        "errors_10s": 200,
    }
    [flow] = data["flows"]
    assert (flow["flow"], flow["queue"]) == ("customers.auvo_to_bling", "to-bling.contacts")
    assert flow["counters"] == {"created": 3}
    assert flow["last_write_at"] is not None and flow["seconds_since_write"] < 60

    table = cli("status")
    assert table.exit_code == 0, table.output
    for text in (
        "to-auvo.customers",
        "ApiRejected",
        "dead letters: 3",
        "auvo.customers.dateLastUpdate",
        "bling token: expires",
        "bling egress group default: token calls in 60 s",
        "created=3",
        f"queues (source: {data['source']})",
    ):
        assert text in table.stdout, text
    assert app.bling_tokens.access_token() not in table.stdout + cli("status", "--json").stdout
    assert sims.auvo.api_token not in table.stdout


def test_status_uses_the_management_api_when_it_answers(make_app: Callable[..., App], tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    async def queues(request: Request) -> JSONResponse:
        seen.append((request.scope["raw_path"].decode(), request.headers.get("authorization", "")))
        rows = [
            {
                "name": f"{prefix}to-auvo.customers",
                "messages_ready": 7,
                "messages_unacknowledged": 3,
                "consumers": 2,
                "message_stats": {"publish_details": {"rate": 1.5}, "ack_details": {"rate": 0.5}},
            }
        ]
        return JSONResponse(rows)

    server = serve_in_thread(Starlette(routes=[Route("/api/queues/{vhost:path}", queues)]))
    try:
        app = make_app(bus={"management_url": server.url})
        prefix = app.settings.bus.prefix
        app.declare_topology()
        data = Cli(config_for(app, tmp_path / "mgmt.toml")).json("status")
    finally:
        server.stop()
    assert data["source"] == "management"
    q = {row["queue"]: row for row in data["queues"]}
    # ready and consumers are exact (passive declare); unacked and rates come from the plugin
    assert (q["to-auvo.customers"]["ready"], q["to-auvo.customers"]["consumers"]) == (0, 0)
    assert (q["to-auvo.customers"]["unacked"], q["to-auvo.customers"]["publish_rate"]) == (3, 1.5)
    assert q["to-bling.contacts"]["exists"] and q["to-bling.contacts"]["unacked"] is None
    assert seen[0] == ("/api/queues/%2F", "Basic " + base64.b64encode(b"guest:guest").decode())


def test_status_falls_back_to_passive_declares_and_fails_loudly_without_a_broker(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    app = make_app(bus={"management_url": "http://127.0.0.1:1"})
    app.declare_topology()
    passive = Cli(config_for(app, tmp_path / "passive.toml")).json("status")
    assert passive["source"] == "passive" and passive["errors"] == {}
    assert {q["queue"]: q["ready"] for q in passive["queues"]}["to-bling.contacts"] == 0

    down = make_app(amqp_url="amqp://guest:guest@127.0.0.1:1//", bus={"management_url": "http://127.0.0.1:1"})
    result = Cli(config_for(down, tmp_path / "down.toml"))("status")
    assert result.exit_code == 1
    assert "status: broker unavailable" in result.stderr and "status: dlq unavailable" in result.stderr
    assert "flows" in result.stdout  # the parts that work are still shown
