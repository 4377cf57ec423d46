"""The job's outcome back on the Auvo task (issue 17, item 3), on the real RabbitMQ and PostgreSQL.

Both simulators, the webhook receiver over HTTP (Bling's pedido and nota fiscal notifications,
Auvo's task notifications), the pollers and the consumers as `run` starts them. A task's pedido is
attended in Bling, then its nota fiscal issued: the Auvo task shows the pedido's number and the
state's keyword once each (one PATCH per state, the company's own keyword kept), and our PATCH,
which comes back as a task change by webhook and by poll, never reaches the pedido again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from contracts.store_keys import JOB_ORDER
from infra.bus.topology import TO_AUVO_TASK_OUTCOMES, TO_BLING_ORDERS
from producers.webhooks.receiver import create_webhook_app
from simulators.server import RunningServer, serve_in_thread
from tests.support import CLIENT_ID, Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration

AUVO_SECRET = "auvo-hook-secret-outcome-0123456789"
FILTER_ID = "63867f52-b262-410a-a409-cc25ba92ded1"
COMPANY_KEYWORD = "7"  # a keyword the company put on the task itself


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    running: list[RunningServer] = []
    yield running
    for server in running:
        server.stop()


@pytest.fixture
def make_app(sims: Simulators, tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(amqp_url: str, database_url: str, **overrides: Any) -> App:
        app = App(build_settings(amqp_url, database_url, sims, **overrides))
        authorize_headless(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def test_pedido_attended_then_invoiced_shows_on_the_task_once_each_without_echo(
    make_app: Callable[..., App],
    sims: Simulators,
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    servers: list[RunningServer],
) -> None:
    app = make_app(
        amqp_url,
        pg_url,
        bus={"prefix": bus_prefix, "retry_delays_seconds": [0.3, 0.6]},
        tasks={"enabled": True, "status": "finished_auto_or_manual", "outcome": True},
        customers={"direction": "auvo_to_bling"},
        poll={"interval_seconds": 0.5, "max_interval_seconds": 1, "overlap_seconds": 5},
        webhooks={"enabled": True, "auvo_secret": AUVO_SECRET},
    )
    app.declare_topology()
    server = serve_in_thread(create_webhook_app(app.webhook_receiver()))
    servers.append(server)
    sims.bling.configure_webhooks(f"{server.url}/webhooks/bling", CLIENT_ID)
    sims.auvo.add_webhook("Task", "Alteracao", f"{server.url}/webhooks/auvo/{AUVO_SECRET}")
    customer = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj="11444777000161")
    line = {"productId": FILTER_ID, "name": "Filtro", "quantity": 2, "unitaryValue": 35.9, "totalValue": 71.8}
    task = sims.auvo.add_task(customer["id"], finished=True, products=[line], keyWords=[COMPANY_KEYWORD])
    task_id = task["taskID"]

    def shown() -> dict[str, Any]:
        with sims.auvo.lock:
            return dict(sims.auvo.records["tasks"][task_id])

    def patches() -> int:
        return sims.auvo.writes[("PATCH", "tasks")]

    running = start(app, worker_threads=2)
    try:
        linked = lambda: app.store.bling_id_for(app.tenant, JOB_ORDER, str(task_id))  # noqa: E731
        wait_until(lambda: linked() is not None, 30, "the pedido")
        order_id = int(linked() or 0)
        numero = str(sims.bling.records["pedidos/vendas"][order_id]["numero"])
        assert patches() == 0  # an open pedido shows nothing

        sims.bling.set_order_situation(order_id, 9)  # atendido, by a Bling user
        wait_until(lambda: patches() == 1, 20, "the attended pedido on the task")
        keywords = {str(k["description"]): str(k["id"]) for k in sims.auvo.records["keywords"].values()}
        assert shown()["externalId"] == numero
        assert shown()["keyWords"] == [COMPANY_KEYWORD, keywords["Pedido atendido"]]

        sims.bling.issue_invoice(order_id)  # nota fiscal issued: invoice.created and order.updated
        wait_until(lambda: patches() == 2, 20, "the invoiced pedido on the task")
        assert shown()["externalId"] == numero
        assert shown()["keyWords"] == [COMPANY_KEYWORD, keywords["Nota fiscal emitida"]]

        # our PATCHes come back as task changes (webhook and poll): dropped as echoes (two PATCHes
        # within Auvo's one-second stamp are one task change)
        counters = lambda: app.store.counters(app.tenant)  # noqa: E731
        echoes = f"{TO_BLING_ORDERS.flow}.skipped_echo"
        wait_until(lambda: counters().get(echoes, 0) >= 1, 20, f"the echo: {counters()}")
        assert sims.bling.webhooks.flush(10) and sims.auvo.webhooks.flush(10)
        time.sleep(2.5)  # a few more poll passes of both sides
    finally:
        running.stop()
    assert patches() == 2  # once per state, though webhooks and polls told each several times
    assert sims.auvo.writes[("POST", "keywords")] == 3  # the defaults, created once
    assert sims.bling.writes[("POST", "pedidos/vendas")] == 1
    assert sims.bling.writes[("PUT", "pedidos/vendas")] == 0  # no echo into a new pedido update
    outcome = app.store.counters(app.tenant)
    assert outcome[f"{TO_AUVO_TASK_OUTCOMES.flow}.updated"] == 2
    task_flow = {k.split(".")[-1] for k in outcome if k.startswith(TO_BLING_ORDERS.flow)}
    assert task_flow == {"created", "skipped_echo"}  # never `unchanged`/`updated` for our PATCH
