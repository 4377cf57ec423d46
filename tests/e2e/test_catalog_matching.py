"""The produto of an Auvo item, against both simulators over HTTP and SQLite: matched to the company's
Bling catalogue by code, by externalId, by GTIN; held (UnmappedProduct) when nothing or several match;
created as before when nothing matches in create mode; a person's mapping wins over every rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.products_cli import map_product, product_rows, unmap_product
from auvo_bling.wiring import App
from consumers.base import CREATED
from consumers.sales.catalog import BlingCatalog
from consumers.sales.mapping import ProductRef, SaleLine
from infra.bus.topology import TO_BLING_PROPOSALS
from infra.errors import UnmappedProduct
from tests.ops_support import Cli, config_for
from tests.support import Capture, Simulators, build_settings

GUID = "6a1e1f52-b262-410a-a409-cc25ba92d001"
EAN = "7891234567895"
MARKER = f"AUVO-P-{GUID}"


@pytest.fixture
def make_app(sims: Simulators, tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        db = tmp_path / f"store-{len(apps)}.sqlite3"
        app = App(build_settings("memory://", f"sqlite:///{db}", sims, **overrides))
        authorize_headless(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def catalog_of(app: App) -> BlingCatalog:
    return BlingCatalog(app.store, app.bling, auvo=app.auvo, unmatched=app.settings.catalog.unmatched)


def auvo_product(sims: Simulators, **fields: Any) -> dict[str, Any]:
    return sims.auvo.add_record("products", {"productId": GUID, "name": "Filtro de ar", **fields})


def bling_produto(sims: Simulators, codigo: str, **fields: Any) -> int:
    body = {
        "nome": f"Produto {codigo}",
        "codigo": codigo,
        "preco": 30.0,
        "tipo": "P",
        "situacao": "A",
        "formato": "S",
        **fields,
    }
    return int(sims.bling.add_record("produtos", body)["id"])


def line(sku: str = "") -> SaleLine:
    return SaleLine("product", GUID, "Filtro de ar", Decimal(2), Decimal("35.9"), sku=sku)


def creates(sims: Simulators) -> int:
    return sims.bling.writes[("POST", "produtos")]


def test_matched_by_code_is_linked_and_the_next_sale_asks_nobody(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    auvo_product(sims, code="FA-01")
    produto = bling_produto(sims, "FA-01")
    app = make_app()
    catalog = catalog_of(app)
    assert catalog.ensure_product(app.tenant, line("FA-01")) == ProductRef(produto, "FA-01")
    assert creates(sims) == 0
    assert app.store.bling_id_for(app.tenant, "product", GUID) == str(produto)
    assert app.store.counters(app.tenant)["catalog.product.matched_code"] == 1
    before = sum(sims.bling.calls.values())
    assert catalog.ensure_product(app.tenant, line("FA-01")) == ProductRef(produto, "FA-01")  # the id map
    assert sum(sims.bling.calls.values()) == before


def test_matched_by_external_id(make_app: Callable[..., App], sims: Simulators) -> None:
    produto = bling_produto(sims, "SKU-FILTRO")
    auvo_product(sims, code="FA-01", externalId=str(produto))  # the task line carries only the code
    app = make_app()
    assert catalog_of(app).ensure_product(app.tenant, line("FA-01")) == ProductRef(produto, "SKU-FILTRO")
    assert creates(sims) == 0
    assert app.store.product_mapping(app.tenant, "product", GUID).source == "external_id"  # type: ignore[union-attr]


def test_the_auvo_product_read_by_its_code_must_be_the_lines_own(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    """The blueprint's path id is the product's code; two Auvo products sharing one code must not
    lend each other their externalId."""
    stranger = bling_produto(sims, "SKU-OUTRO")
    produto = bling_produto(sims, "SKU-FILTRO")
    sims.auvo.add_record(
        "products",
        {
            "productId": "0000aaaa-0000-0000-0000-000000000001",
            "code": "FA-01",
            "externalId": str(stranger),
            "name": "Outro",
        },
    )
    auvo_product(sims, code="FA-01", externalId=str(produto))
    app = make_app()
    assert catalog_of(app).ensure_product(app.tenant, line("FA-01")) == ProductRef(produto, "SKU-FILTRO")


def test_matched_by_gtin(make_app: Callable[..., App], sims: Simulators) -> None:
    bling_produto(sims, "OUTRO", gtin="7891000315507")
    produto = bling_produto(sims, "SKU-FILTRO", gtin=EAN)
    auvo_product(sims, code="FA-01", productSpecifications=[{"name": "GTIN", "Specification": EAN}])
    app = make_app()
    assert catalog_of(app).ensure_product(app.tenant, line("FA-01")) == ProductRef(produto, "SKU-FILTRO")
    assert creates(sims) == 0 and app.store.counters(app.tenant)["catalog.product.matched_gtin"] == 1


def test_hold_mode_dead_letters_an_unmatched_item_and_creates_nothing(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    auvo_product(sims, code="FA-01")
    bling_produto(sims, "FA-02")
    app = make_app(catalog={"unmatched": "hold"})
    with pytest.raises(UnmappedProduct) as caught:
        catalog_of(app).ensure_product(app.tenant, line("FA-01"))
    assert creates(sims) == 0 and app.store.bling_id_for(app.tenant, "product", GUID) is None
    assert caught.value.item["code"] == "FA-01" and caught.value.candidates == []
    assert f"products map product {GUID}" in caught.value.hint
    assert app.store.counters(app.tenant)["catalog.product.held"] == 1


def test_once_the_auvo_code_is_filled_the_held_sale_finds_the_produto(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    """The replayed event still carries the old line (its code as it was): the Auvo product record,
    read again, has the code a person filled in, and that is what is matched."""
    auvo_product(sims, code="FILTRO")
    produto = bling_produto(sims, "SKU-7731")
    app = make_app(catalog={"unmatched": "hold"})
    catalog = catalog_of(app)
    with pytest.raises(UnmappedProduct):
        catalog.ensure_product(app.tenant, line("FILTRO"))
    sims.auvo.update_record("products", GUID, code="SKU-7731")
    assert catalog.ensure_product(app.tenant, line("FILTRO")) == ProductRef(produto, "SKU-7731")
    assert app.store.bling_id_for(app.tenant, "product", GUID) == str(produto)  # the next task: the id map
    assert creates(sims) == 0


def test_two_produtos_with_the_code_are_held_in_create_mode_too(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    auvo_product(sims, code="FA-01")
    first, second = bling_produto(sims, "FA-01"), bling_produto(sims, "FA-01", nome="Filtro (duplicado)")
    app = make_app()
    with pytest.raises(UnmappedProduct, match="ambiguous") as caught:
        catalog_of(app).ensure_product(app.tenant, line("FA-01"))
    assert [c["bling_id"] for c in caught.value.candidates] == [str(first), str(second)]
    assert creates(sims) == 0


def test_create_mode_without_a_match_creates_the_marker_produto_as_before(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    auvo_product(sims, code="FA-01")
    app = make_app()
    ref = catalog_of(app).ensure_product(app.tenant, line("FA-01"))
    [created] = [p for p in sims.bling.records["produtos"].values()]
    assert ref == ProductRef(int(created["id"]), MARKER) and created["codigo"] == MARKER
    assert app.store.counters(app.tenant)["catalog.product.created"] == 1
    # and the next sale finds it by the id map, with the marker as the item's codigo
    assert catalog_of(app).ensure_product(app.tenant, line("FA-01")) == ref
    assert creates(sims) == 1


def test_a_persons_mapping_wins_and_unmap_lets_the_rules_decide_again(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    auvo_product(sims, code="FA-01")
    by_code = bling_produto(sims, "FA-01")
    chosen = bling_produto(sims, "FILTRO-PREMIUM")
    app = make_app()
    catalog = catalog_of(app)
    assert catalog.ensure_product(app.tenant, line("FA-01")).id == by_code
    mapping = map_product(app, "product", GUID, chosen)
    assert (mapping.bling_id, mapping.codigo, mapping.manual) == (str(chosen), "FILTRO-PREMIUM", True)
    assert catalog.ensure_product(app.tenant, line("FA-01")) == ProductRef(chosen, "FILTRO-PREMIUM")
    [row] = [r for r in product_rows(app) if r.auvo_id == GUID]
    assert (row.bling_id, row.how) == (str(chosen), "manual")
    assert unmap_product(app, "product", GUID) and not unmap_product(app, "product", GUID)
    assert catalog.ensure_product(app.tenant, line("FA-01")) == ProductRef(by_code, "FA-01")
    assert creates(sims) == 0


def test_products_list_unmapped_shows_what_has_no_produto_yet(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    auvo_product(sims, code="FA-01")
    sims.auvo.add_record("services", {"id": "5b2e1f52-705c-11eb-bf97-0aa2a285b001", "title": "Higienização"})
    produto = bling_produto(sims, "FA-01")
    app = make_app()
    assert {(r.kind, r.auvo_id) for r in product_rows(app, unmapped_only=True)} == {
        ("product", GUID),
        ("service", "5b2e1f52-705c-11eb-bf97-0aa2a285b001"),
    }
    catalog_of(app).ensure_product(app.tenant, line("FA-01"))
    rows = product_rows(app, unmapped_only=True)
    assert [r.kind for r in rows] == ["service"]
    [linked] = [r for r in product_rows(app) if r.kind == "product"]
    assert (linked.bling_id, linked.codigo, linked.how) == (str(produto), "FA-01", "code")


def test_a_quotes_item_is_matched_by_the_externalid_of_its_auvo_product(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    """The quote flow reads the Auvo product records for the names: matching reuses them (no second read)."""
    produto = bling_produto(sims, "SKU-FILTRO")
    auvo_product(sims, code="FA-01", externalId=str(produto))
    customer = sims.auvo.add_customer("Transportes Rápido")
    sims.auvo.add_record(
        "quotations",
        {
            "customerId": customer["id"],
            "products": [{"productId": "FA-01", "amout": 2, "UnitaryValue": "35.90"}],
            "CurrentStage": {"id": 3, "description": "Aprovado", "position": 3, "isCancelled": False},
        },
    )
    app = make_app(quotes={"enabled": True, "stage": "Aprovado"})
    capture = Capture()
    for poller in app.pollers(capture):  # type: ignore[arg-type]
        poller.poll_once()
    [event] = [e for e in capture.published if e.type == TO_BLING_PROPOSALS.event_type]
    reads_before = sims.auvo.calls[("GET", "products")]
    assert app.handlers()[TO_BLING_PROPOSALS](event) == CREATED
    [proposta] = sims.bling.records["propostas-comerciais"].values()
    assert [(i["produto"]["id"], i["codigo"]) for i in proposta["itens"]] == [(produto, "SKU-FILTRO")]
    assert creates(sims) == 0
    assert sims.auvo.calls[("GET", "products")] - reads_before == 1  # for the names, used by the matching too


def test_products_commands_refuse_what_cannot_be_mapped(
    make_app: Callable[..., App], sims: Simulators, tmp_path: Path
) -> None:
    app = make_app()
    cli = Cli(config_for(app, tmp_path / "ops.toml"))
    assert cli("products", "map", "widget", GUID, "1").exit_code == 2  # not a kind
    missing = cli("products", "map", "product", GUID, "999999")
    assert missing.exit_code == 1 and "Bling has no produto 999999" in missing.output
    assert app.store.product_mapping(app.tenant, "product", GUID) is None
    assert cli("products", "unmap", "product", GUID).exit_code == 1
    produto = bling_produto(sims, "FA-01")
    assert cli("products", "map", "product", GUID, str(produto)).exit_code == 0
    auvo_product(sims, code="FA-01")
    listed = cli("products", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(r["auvo_id"], r["bling_id"], r["how"]) for r in json.loads(listed.stdout)] == [
        (GUID, str(produto), "manual")
    ]
    assert (
        "every Auvo product and service has its Bling produto" in cli("products", "list", "--unmapped").output
    )
    assert cli("products", "unmap", "product", GUID).exit_code == 0
