"""Records with known fates for the "Por que não integrou?" tests: the real pollers and consumers run
against both simulators (embedded bus, SQLite store) until each task met its fate, as in
tests/e2e/test_why.py: one left out by its type, one by its status (Auvo's filter keeps it from the
poller), one becomes a pedido, one is dead-lettered (its customer's CPF is invalid)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.settings import Settings
from tests.support import Simulators, build_settings, wait_until

CNPJ = "11444777000161"
BAD_CPF = "52998224724"  # the check digit is wrong: Bling refuses the contato


@dataclass(frozen=True)
class Fates:
    settings: Settings
    by_type: int  # left out by 'Tipos de tarefa' (the poller recorded it)
    by_status: int  # left out by 'Status das tarefas' (only a look in Auvo can tell)
    integrated: int
    order_id: int  # the pedido the integrated task became
    dead: int  # dead-lettered: ApiRejected on numeroDocumento


def _line(unit: float) -> dict[str, Any]:
    return {
        "productId": "p-1",
        "code": "FA-01",
        "name": "Filtro de ar",
        "quantity": 2.0,
        "unitaryValue": unit,
        "totalValue": 2 * unit,
    }


def _orders(sims: Simulators) -> list[dict[str, Any]]:
    with sims.bling.lock:
        return [dict(r) for r in sims.bling.records["pedidos/vendas"].values()]


def run_to_fates(sims: Simulators, tmp_path: Path) -> Fates:
    """Runs `run` until every fate is in the store, then stops it; the store stays for the console."""
    sims.bling.validate_documents = True
    installs = sims.auvo.add_record("taskTypes", {"description": "Instalação"})
    visits = sims.auvo.add_record("taskTypes", {"description": "Visita"})
    good = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj=CNPJ)
    bad = sims.auvo.add_customer("Maria Souza", cpfCnpj=BAD_CPF)
    by_type = sims.auvo.add_task(good["id"], visits["id"], finished=True, products=[_line(35.9)])
    by_status = sims.auvo.add_task(good["id"], installs["id"], finished=False, products=[_line(35.9)])
    integrated = sims.auvo.add_task(good["id"], installs["id"], finished=True, products=[_line(35.9)])
    dead = sims.auvo.add_task(bad["id"], installs["id"], finished=True, products=[_line(35.9)])
    settings = build_settings(
        "memory://",
        f"sqlite:///{tmp_path / 'store.sqlite3'}",
        sims,
        customers={"direction": "auvo_to_bling"},
        tasks={"enabled": True, "status": "finished_auto_or_manual", "task_types": [installs["id"]]},
        bus={"retry_delays_seconds": [0.2, 0.4], "max_attempts": 3},
    )
    app = App(settings)
    try:
        authorize_headless(app)
        running = start(app, worker_threads=2)

        def kinds(task: dict[str, Any]) -> list[str]:
            return [str(r.kind) for r in app.store.history_of(app.tenant, "auvo.task", str(task["taskID"]))]

        try:
            wait_until(lambda: len(_orders(sims)) == 1, 60, "the pedido of the integrated task")
            wait_until(lambda: "dead_lettered" in kinds(dead), 60, "the dead letter")
            wait_until(lambda: "left_out" in kinds(by_type), 60, "the task left out by its type")
        finally:
            running.stop()
    finally:
        app.close()
    [order] = _orders(sims)
    return Fates(
        settings, by_type["taskID"], by_status["taskID"], integrated["taskID"], order["id"], dead["taskID"]
    )
