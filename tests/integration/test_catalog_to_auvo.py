"""The company's Bling catalogue reaches Auvo (issue 17, item 2), on the real RabbitMQ and PostgreSQL.

200 produtos with stock become Auvo products and services exactly once; a stock movement in Bling
reaches Auvo by its webhook (latency measured, p95 <= 2 s) while the pollers are an hour apart; a
price we write to Auvo is never echoed back to Bling: a task selling that Auvo product then finds
the company's produto through the link (no rule, no new produto, no produto update).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.status import collect_status
from auvo_bling.wiring import App
from infra.bus.topology import TO_AUVO_CATALOG
from producers.bling_catalog import BlingCatalogPoller
from producers.webhooks.receiver import create_webhook_app
from simulators.server import RunningServer, serve_in_thread
from tests.ops_support import wait_until
from tests.support import CLIENT_ID, Simulators, build_settings

pytestmark = pytest.mark.integration

PRODUCTS, SERVICES = 150, 50
STOCK_CHANGES = 20


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


def seed_catalogue(sims: Simulators) -> list[dict[str, Any]]:
    produtos = []
    for i in range(PRODUCTS):
        produtos.append(
            sims.bling.add_record(
                "produtos",
                {
                    "nome": f"Filtro de óleo {i}",
                    "codigo": f"FO-{i:04d}",
                    "preco": 30 + i * 0.5,
                    "precoCusto": 12.25,
                    "tipo": "P",
                    "situacao": "A" if i % 10 else "I",
                    "estoque": {"saldoVirtualTotal": float(i)},
                },
            )
        )
    for i in range(SERVICES):
        produtos.append(
            sims.bling.add_record(
                "produtos",
                {"nome": f"Mão de obra {i}", "codigo": f"MO-{i:03d}", "preco": 80.0, "tipo": "S"},
            )
        )
    return produtos


def auvo_product_of(sims: Simulators, bling_id: int) -> dict[str, Any] | None:
    return next(
        (p for p in list(sims.auvo.records["products"].values()) if p.get("externalId") == str(bling_id)),
        None,
    )


def test_bling_catalogue_reaches_auvo_once_stock_by_webhook_and_no_echo(
    make_app: Callable[..., App],
    sims: Simulators,
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    servers: list[RunningServer],
) -> None:
    produtos = seed_catalogue(sims)
    app = make_app(
        amqp_url,
        pg_url,
        bus={"prefix": bus_prefix},
        customers={"direction": "auvo_to_bling"},
        catalog={"bling_to_auvo": True, "stock_sweep_seconds": 3600},
        # polls an hour apart: after the first pass, a change can only travel by webhook
        poll={"interval_seconds": 3600, "overlap_seconds": 5},
        webhooks={"enabled": True, "poll_interval_seconds": 3600},
    )
    app.declare_topology()
    receiver = serve_in_thread(create_webhook_app(app.webhook_receiver()))
    servers.append(receiver)
    sims.bling.configure_webhooks(f"{receiver.url}/webhooks/bling", CLIENT_ID)

    running = start(app)
    try:
        # 1. the first pass sweeps the catalogue: every produto once, as a product or a service
        def all_written() -> bool:
            return (
                len(sims.auvo.records["products"]) == PRODUCTS
                and len(sims.auvo.records["services"]) == SERVICES
            )

        wait_until(all_written, 60, "200 produtos in Auvo")
        first = produtos[7]
        product = auvo_product_of(sims, first["id"])
        assert product is not None
        assert (product["name"], product["unitaryValue"], product["unitaryCost"]) == (
            "Filtro de óleo 7",
            "33,50",
            "12,25",
        )
        assert (product["totalStock"], product["active"]) == (7, True)
        assert auvo_product_of(sims, produtos[10]["id"])["active"] is False  # type: ignore[index]
        service_link = app.store.auvo_id_for(app.tenant, "service", str(produtos[PRODUCTS]["id"]))
        assert service_link is not None
        assert sims.auvo.records["services"][service_link]["title"] == "Mão de obra 0"

        # 2. a sweep after a restart republishes all 200: the consumer drops them by fingerprint
        publisher = app.publisher()
        restarted = BlingCatalogPoller(app.bling, publisher, app.store, tenant=app.tenant, sweep_seconds=0)
        assert restarted.poll_once() == 200
        unchanged = f"{TO_AUVO_CATALOG.flow}.unchanged"
        wait_until(lambda: app.store.counters(app.tenant).get(unchanged, 0) >= 200, 60, "200 repeats")

        # 3. stock movements reach Auvo by webhook
        latencies = []
        for produto in produtos[20 : 20 + STOCK_CHANGES]:
            started = time.monotonic()
            sims.bling.move_stock(produto["id"], 500.0)
            wait_until(
                lambda p=produto: (auvo_product_of(sims, p["id"]) or {}).get("totalStock") == 500,
                10,
                "the stock, by webhook",
            )
            latencies.append(time.monotonic() - started)
        p95 = statistics.quantiles(latencies, n=20)[-1]
        print(f"stock webhook -> Auvo totalStock: p50 {statistics.median(latencies):.3f} s, p95 {p95:.3f} s")
        assert p95 <= 2.0

        # 4. a price change in Bling: we write it to Auvo; nothing goes back to Bling
        sims.bling.update_record("produtos", first["id"], preco=41.9)
        wait_until(
            lambda: (auvo_product_of(sims, first["id"]) or {}).get("unitaryValue") == "41,90",
            10,
            "the new price in Auvo",
        )
    finally:
        running.stop()

    assert sims.auvo.writes[("POST", "products")] == PRODUCTS
    assert sims.auvo.writes[("POST", "services")] == SERVICES
    assert sims.auvo.writes[("PATCH", "products")] == STOCK_CHANGES + 1
    assert not any(method in ("POST", "PUT", "PATCH") for method, _ in sims.bling.writes)
    counters = app.store.counters(app.tenant)
    assert counters.get(f"{TO_AUVO_CATALOG.flow}.created") == 200
    # `status` shows the flow's figures, under its id and queue
    [flow] = [f for f in collect_status(app)["flows"] if f["flow"] == TO_AUVO_CATALOG.flow]
    assert flow["queue"] == "to-auvo.catalog" and flow["last_write_at"] is not None
    assert flow["counters"]["created"] == 200 and flow["counters"]["updated"] == STOCK_CHANGES + 1
