"""The demo's second act: the company's Bling catalogue reaches Auvo (`catalog.bling_to_auvo`).

After the jobs were synced, the catalogue flow is switched on: the produtos the tasks sold are
already linked to their Auvo items (item 1 matched them), so they are only updated in place, and the
rest of the company's catalogue (with stock) becomes new Auvo products and services, once each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO

from auvo_bling.runtime import start
from auvo_bling.wiring import App
from consumers.catalog.auvo_items import SERVICE_TIPOS
from infra.bus.topology import TO_AUVO_CATALOG
from infra.settings import Settings
from simulators.auvo import AuvoState
from simulators.bling import BlingState
from simulators.seed import seed_bling_catalogue

CATALOGUE_ONLY = 16  # produtos no demo task sells: they become new Auvo items


def seed_catalogue_only(bling: BlingState) -> None:
    produtos = [
        {
            "nome": f"Peça de reposição {i:02d}" if i % 4 else f"Visita técnica {i:02d}",
            "codigo": f"PR-{i:02d}",
            "preco": 19.9 + i,
            "precoCusto": 8.5,
            "tipo": "P" if i % 4 else "S",
            "estoque": {"saldoVirtualTotal": float(3 * i)},
        }
        for i in range(CATALOGUE_ONLY)
    ]
    seed_bling_catalogue(bling, produtos)


@dataclass
class CatalogueResult:
    produtos: int  # in the Bling catalogue
    in_auvo: int  # of them, written to (or found in) Auvo
    created: int
    updated: int
    unchanged: int
    auvo_items_before: int
    auvo_items_after: int

    @property
    def ok(self) -> bool:
        created_once = self.auvo_items_after == self.auvo_items_before + self.created
        return self.in_auvo == self.produtos and created_once

    def line(self) -> str:
        return (
            f"  Bling produtos -> Auvo  : {self.in_auvo}/{self.produtos} "
            f"({self.created} created, {self.updated} updated, {self.unchanged} unchanged; "
            f"Auvo items {self.auvo_items_before} -> {self.auvo_items_after})"
        )


def _auvo_items(auvo: AuvoState) -> int:
    with auvo.lock:
        return len(auvo.records["products"]) + len(auvo.records["services"])


def _synced(app: App, bling: BlingState) -> int:
    with bling.lock:
        produtos = [(str(p["id"]), p.get("tipo")) for p in bling.records["produtos"].values()]
    kinds = [("service" if tipo in SERVICE_TIPOS else "product", produto_id) for produto_id, tipo in produtos]
    store, tenant = app.store, app.tenant
    return sum(1 for kind, produto_id in kinds if store.fingerprint(tenant, "bling", kind, produto_id))


def sync_catalogue(
    settings: Settings, auvo: AuvoState, bling: BlingState, timeout: float, out: TextIO
) -> CatalogueResult:
    print("  catalog.bling_to_auvo on: the company's Bling catalogue goes to Auvo", file=out)
    catalog = settings.catalog.model_copy(update={"bling_to_auvo": True})
    app = App(settings.model_copy(update={"catalog": catalog}))
    before = _auvo_items(auvo)
    with bling.lock:
        total = len(bling.records["produtos"])
    running = start(app)
    try:
        deadline = time.monotonic() + timeout
        while _synced(app, bling) < total and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        running.stop()
        counters = app.store.counters(app.tenant)
        in_auvo = _synced(app, bling)
        app.close()
    flow = TO_AUVO_CATALOG.flow
    return CatalogueResult(
        total,
        in_auvo,
        counters.get(f"{flow}.created", 0),
        counters.get(f"{flow}.updated", 0),
        counters.get(f"{flow}.unchanged", 0),
        before,
        _auvo_items(auvo),
    )
