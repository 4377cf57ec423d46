"""Products of the company's Bling catalogue through the whole flow, on the embedded bus.

kombu's in-memory transport, SQLite, both simulators and the real pollers, consumers, runner and
DLQ commands (the same in-process code `auvo-bling demo` runs):
- a task selling an item whose Auvo code is a Bling produto's codigo: the pedido sells that produto
  and no produto is created;
- in hold mode, a task selling an item Bling does not know: dead-lettered as UnmappedProduct at once,
  nothing written. (`dlq` commands need RabbitMQ: map + replay is in
  tests/integration/test_catalog_replay.py.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import Running, start
from auvo_bling.wiring import App
from tests.support import Simulators, build_settings, wait_until

GUID = "6a1e1f52-b262-410a-a409-cc25ba92d001"


@pytest.fixture
def run_app(sims: Simulators, tmp_path: Path) -> Iterator[Callable[..., tuple[App, Running]]]:
    started: list[tuple[App, Running]] = []

    def run(**overrides: Any) -> tuple[App, Running]:
        db = tmp_path / f"store-{len(started)}.sqlite3"
        prefix = f"catalog-{uuid.uuid4().hex[:8]}."  # the in-memory broker is shared by the process
        app = App(
            build_settings(
                "memory://",
                f"sqlite:///{db}",
                sims,
                bus={"prefix": prefix, "retry_delays_seconds": [0.3, 0.6], "max_attempts": 3},
                tasks={"enabled": True, "status": "finished_auto_or_manual"},
                **overrides,
            )
        )
        authorize_headless(app)
        running = start(app, worker_threads=1)
        started.append((app, running))
        return app, running

    yield run
    for app, running in started:
        running.stop()
        app.close()


def task_selling(sims: Simulators, code: str) -> dict[str, Any]:
    sims.auvo.add_record("products", {"productId": GUID, "code": code, "name": "Filtro de ar"})
    customer = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj="11444777000161")
    line = {
        "productId": GUID,
        "code": code,
        "name": "Filtro de ar",
        "quantity": 2.0,
        "unitaryValue": 35.9,
        "totalValue": 71.8,
        "discount": {"value": 0.0, "type": "Valor"},
    }
    return sims.auvo.add_task(customer["id"], finished=True, products=[line])


def pedidos(sims: Simulators) -> list[dict[str, Any]]:
    with sims.bling.lock:
        return [dict(r) for r in sims.bling.records["pedidos/vendas"].values()]


def bling_produto(sims: Simulators, codigo: str) -> int:
    body = {
        "nome": "Filtro de ar F7",
        "codigo": codigo,
        "preco": 30.0,
        "tipo": "P",
        "situacao": "A",
        "formato": "S",
        "gtin": "7891234567895",
    }
    return int(sims.bling.add_record("produtos", body)["id"])


def test_a_task_selling_a_catalogue_item_sells_that_produto_and_creates_none(
    run_app: Callable[..., tuple[App, Running]], sims: Simulators
) -> None:
    produto = bling_produto(sims, "FA-01")
    task = task_selling(sims, "FA-01")
    app, running = run_app()
    wait_until(lambda: len(pedidos(sims)) == 1, 30, "the task's pedido")
    [pedido] = pedidos(sims)
    assert pedido["numeroLoja"] == f"AUVO-TASK-{task['taskID']}"
    assert [(i["produto"]["id"], i["codigo"]) for i in pedido["itens"]] == [(produto, "FA-01")]
    assert sims.bling.writes[("POST", "produtos")] == 0
    assert app.store.bling_id_for(app.tenant, "product", GUID) == str(produto)
    assert running.consumer_stats().get("dead_lettered", 0) == 0


def test_in_hold_mode_an_unknown_item_is_dead_lettered_and_nothing_is_written(
    run_app: Callable[..., tuple[App, Running]], sims: Simulators
) -> None:
    bling_produto(sims, "SKU-7731")  # the company's code, not the one typed in Auvo
    task_selling(sims, "FILTRO")
    app, running = run_app(catalog={"unmatched": "hold"})
    wait_until(lambda: running.consumer_stats().get("dead_lettered", 0) == 1, 30, "the held task")
    assert running.consumer_stats().get("retried", 0) == 0  # permanent: straight to the DLQ
    assert pedidos(sims) == [] and sims.bling.writes[("POST", "produtos")] == 0
    assert app.store.counters(app.tenant)["catalog.product.held"] == 1
    # the replay after `products map` runs on RabbitMQ: tests/integration/test_catalog_replay.py
