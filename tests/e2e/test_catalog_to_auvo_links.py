"""The catalogue Bling -> Auvo and the task flow's product matching (issue 17, items 2 and 1) agree.

Against both simulators over HTTP and SQLite: the Auvo product or service the catalogue flow wrote is
what a task line then sells, and the task flow finds its Bling produto through the id map (no rule,
no request to Bling, no new produto); with the link lost, the product's `externalId` (the produto id)
still finds it by rule. And loop-free: a produto the task flow created for an Auvo product is written
back onto *that* Auvo product (never a duplicate), and a price we write to Auvo goes nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.products_cli import map_product
from auvo_bling.wiring import App
from consumers.base import CREATED, UNCHANGED, UPDATED
from consumers.catalog.auvo_catalog_writer import BlingProdutoToAuvoItem
from consumers.sales.catalog import BlingCatalog
from consumers.sales.mapping import SaleLine
from contracts.events import bling_product_changed
from infra.errors import AmbiguousMatch
from tests.support import Simulators, build_settings


@pytest.fixture
def app(sims: Simulators, tmp_path: Path) -> Iterator[App]:
    app = App(build_settings("memory://", f"sqlite:///{tmp_path / 's.sqlite3'}", sims))
    authorize_headless(app)
    yield app
    app.close()


def produto(sims: Simulators, **fields: Any) -> dict[str, Any]:
    body = {"nome": "Filtro de ar", "codigo": "FA-01", "preco": 35.9, "tipo": "P", "situacao": "A",
            "estoque": {"saldoVirtualTotal": 12.0}, **fields}
    return sims.bling.add_record("produtos", body)


def listed(sims: Simulators, produto_id: int) -> dict[str, Any]:
    """The produto as `GET /produtos` lists it (what the poller and the webhook publish)."""
    record = sims.bling.records["produtos"][produto_id]
    return {k: record[k] for k in ("id", "nome", "codigo", "preco", "precoCusto", "tipo", "situacao",
                                   "formato", "estoque")}


def sync(app: App, record: dict[str, Any]) -> str:
    writer = BlingProdutoToAuvoItem(app.store, app.auvo)
    return writer(bling_product_changed(record, observed_at=datetime.now(UTC)))


def sell(app: App, kind: str, auvo_id: str) -> int:
    catalog = BlingCatalog(app.store, app.bling, auvo=app.auvo, unmatched="hold")
    line = SaleLine(kind, auvo_id, "Filtro de ar", Decimal(1), Decimal("35.9"))  # type: ignore[arg-type]
    return catalog.ensure_product(app.tenant, line).id


def test_a_task_sells_the_product_we_wrote_with_the_company_produto(app: App, sims: Simulators) -> None:
    bling_id = produto(sims)["id"]
    service_id = produto(sims, nome="Instalação", codigo="INST", tipo="S")["id"]
    assert sync(app, listed(sims, bling_id)) == CREATED
    assert sync(app, listed(sims, service_id)) == CREATED
    auvo_id = app.store.auvo_id_for(app.tenant, "product", str(bling_id))
    service = app.store.auvo_id_for(app.tenant, "service", str(service_id))
    assert auvo_id and service
    assert sims.auvo.records["products"][auvo_id]["externalId"] == str(bling_id)

    reads = dict(sims.bling.calls)
    assert sell(app, "product", auvo_id) == bling_id
    assert sell(app, "service", service) == service_id
    assert dict(sims.bling.calls) == reads  # the link answered: not one request to Bling
    assert not sims.bling.writes  # "hold" mode: nothing created, nothing held


def test_with_the_link_lost_the_external_id_still_finds_the_produto(app: App, sims: Simulators) -> None:
    bling_id = produto(sims)["id"]
    sync(app, listed(sims, bling_id))
    auvo_id = app.store.auvo_id_for(app.tenant, "product", str(bling_id))
    assert auvo_id
    app.store.forget_link(app.tenant, "product", auvo_id=auvo_id)
    assert sell(app, "product", auvo_id) == bling_id  # by rule: externalId
    assert not sims.bling.writes
    # and the catalogue's next write finds its own product by externalId: no second one
    sims.bling.update_record("produtos", bling_id, preco=40.0)
    assert sync(app, listed(sims, bling_id)) == UPDATED
    assert sims.auvo.writes[("POST", "products")] == 1


def test_a_produto_the_task_flow_created_updates_its_auvo_product_and_nothing_echoes(
    app: App, sims: Simulators
) -> None:
    auvo_id = sims.auvo.add_record("products", {"name": "Correia", "unitaryValue": "20,00"})["productId"]
    catalog = BlingCatalog(app.store, app.bling, auvo=app.auvo, unmatched="create")
    line = SaleLine("product", auvo_id, "Correia", Decimal(1), Decimal("20"))
    bling_id = catalog.ensure_product(app.tenant, line).id  # created, coded AUVO-P-<guid>
    assert sims.bling.writes[("POST", "produtos")] == 1

    # the company then prices it in Bling: the catalogue flow patches that same Auvo product
    sims.bling.update_record("produtos", bling_id, preco=25.5)
    assert sync(app, listed(sims, bling_id)) == UPDATED
    assert len(sims.auvo.records["products"]) == 1
    assert sims.auvo.records["products"][auvo_id]["unitaryValue"] == "25,50"
    assert sims.auvo.records["products"][auvo_id]["externalId"] == str(bling_id)
    # our write is not echoed: a re-observation is dropped without a request, Bling is never written
    auvo_calls = sum(sims.auvo.calls.values())
    assert sync(app, listed(sims, bling_id)) == UNCHANGED
    assert sum(sims.auvo.calls.values()) == auvo_calls
    assert catalog.ensure_product(app.tenant, line).id == bling_id
    assert sims.bling.writes[("POST", "produtos")] == 1
    assert not any(method in ("PUT", "PATCH") for method, _ in sims.bling.writes)


def test_the_company_auvo_product_with_the_same_code_is_linked_not_duplicated(
    app: App, sims: Simulators
) -> None:
    existing = sims.auvo.add_record("products", {"name": "Filtro (Auvo)", "code": "FA-01"})["productId"]
    bling_id = produto(sims)["id"]
    assert sync(app, listed(sims, bling_id)) == UPDATED
    assert app.store.auvo_id_for(app.tenant, "product", str(bling_id)) == existing
    assert sims.auvo.writes[("POST", "products")] == 0
    assert sims.auvo.records["products"][existing]["externalId"] == str(bling_id)
    assert sell(app, "product", existing) == bling_id


def test_two_auvo_products_with_the_produto_code_are_held(app: App, sims: Simulators) -> None:
    for name in ("Filtro A", "Filtro B"):
        sims.auvo.add_record("products", {"name": name, "code": "FA-01"})
    bling_id = produto(sims)["id"]
    with pytest.raises(AmbiguousMatch):
        sync(app, listed(sims, bling_id))
    assert sims.auvo.writes[("POST", "products")] == 0


def test_a_service_mapped_by_hand_is_the_one_written(app: App, sims: Simulators) -> None:
    service = sims.auvo.add_record("services", {"title": "Instalação (Auvo)", "price": "10.00"})["id"]
    bling_id = produto(sims, nome="Instalação", codigo="INST", tipo="S", preco=150.0)["id"]
    map_product(app, "service", service, str(bling_id))
    assert sync(app, listed(sims, bling_id)) == UPDATED
    assert sims.auvo.writes[("POST", "services")] == 0
    assert sims.auvo.records["services"][service]["price"] == 150.0
    assert sell(app, "service", service) == bling_id
