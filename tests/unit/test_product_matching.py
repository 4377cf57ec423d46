"""The product matching rule, by table: each rule, their order, ambiguity, and the mapping winning."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.customers.matching import MatchKind
from consumers.sales.mapping import SaleLine
from consumers.sales.product_matching import (
    AuvoItem,
    BlingProduct,
    Candidate,
    ProductRule,
    auvo_gtin,
    auvo_item,
    held,
    match_product,
    rules_for,
    valid_gtin,
)
from infra.errors import UnmappedProduct

GUID = "6a1e1f52-b262-410a-a409-cc25ba92d001"
EAN = "7891234567895"  # a valid GTIN-13
OTHER_EAN = "7891000315507"
ITEM = AuvoItem("product", GUID, "Filtro de ar", code="FA-01", external_id="5001", gtin=EAN)
MARKER = f"AUVO-P-{GUID}"


def produto(id_: int, codigo: str = "", gtin: str = "") -> BlingProduct:
    return BlingProduct(str(id_), codigo, gtin)


@pytest.mark.parametrize(
    ("item", "found", "kind", "rule", "bling_id"),
    [
        # each rule alone
        (ITEM, [produto(1, "FA-01")], MatchKind.UNIQUE, ProductRule.CODE, "1"),
        (ITEM, [produto(5001, "SKU-X")], MatchKind.UNIQUE, ProductRule.EXTERNAL_ID, "5001"),
        (ITEM, [produto(7, "SKU-Y", EAN)], MatchKind.UNIQUE, ProductRule.GTIN, "7"),
        (ITEM, [produto(9, MARKER)], MatchKind.UNIQUE, ProductRule.MARKER, "9"),
        # several rules agreeing on one produto: linked, by the first rule in order
        (ITEM, [produto(5001, "FA-01", EAN)], MatchKind.UNIQUE, ProductRule.CODE, "5001"),
        # our own marker wins over the catalogue rules (a produto we created, whose link was lost)
        (ITEM, [produto(9, MARKER), produto(1, "FA-01")], MatchKind.UNIQUE, ProductRule.MARKER, "9"),
        # whatever matches no rule is ignored (an over-broad answer never links a stranger)
        (ITEM, [produto(3, "OTHER"), produto(4, "", OTHER_EAN)], MatchKind.NONE, None, None),
        (ITEM, [], MatchKind.NONE, None, None),
        # a GTIN only counts where both have one
        (AuvoItem("product", GUID, code="FA-01"), [produto(4, "X", EAN)], MatchKind.NONE, None, None),
        (ITEM, [produto(4, "X", "")], MatchKind.NONE, None, None),
        # externalId that is not a Bling id (another ERP's key) takes no part
        (AuvoItem("product", GUID, external_id="ERP-5001"), [produto(5001)], MatchKind.NONE, None, None),
        # ambiguity: two produtos with one code, or with one GTIN; rules pointing at different produtos
        (ITEM, [produto(1, "FA-01"), produto(2, "FA-01")], MatchKind.AMBIGUOUS, None, None),
        (ITEM, [produto(1, "A", EAN), produto(2, "B", EAN)], MatchKind.AMBIGUOUS, None, None),
        (ITEM, [produto(1, "FA-01"), produto(5001, "SKU-X")], MatchKind.AMBIGUOUS, None, None),
        (ITEM, [produto(1, "FA-01"), produto(7, "SKU-Y", EAN)], MatchKind.AMBIGUOUS, None, None),
        (ITEM, [produto(9, MARKER), produto(10, MARKER)], MatchKind.AMBIGUOUS, None, None),
        # a service has no code, externalId or GTIN in Auvo: only the marker finds one
        (AuvoItem("service", "S1"), [produto(1, "FA-01")], MatchKind.NONE, None, None),
        (AuvoItem("service", "S1"), [produto(8, "AUVO-S-S1")], MatchKind.UNIQUE, ProductRule.MARKER, "8"),
    ],
)
def test_matching_by_table(
    item: AuvoItem, found: list[BlingProduct], kind: MatchKind, rule: ProductRule | None, bling_id: str | None
) -> None:
    match = match_product(item, found=found)
    assert (match.kind, match.rule, match.bling_id) == (kind, rule, bling_id)
    if kind is MatchKind.AMBIGUOUS:
        assert len({c.bling_id for c in match.candidates}) >= 2 and match.reason


def test_the_mapping_wins_over_the_id_map_and_every_rule() -> None:
    mapped = Candidate(ProductRule.MAPPING, "42", "SKU-42")
    found = [produto(1, "FA-01"), produto(2, "FA-01"), produto(9, MARKER)]
    match = match_product(ITEM, mapped=mapped, linked="77", found=found)
    assert (match.kind, match.rule, match.bling_id, match.codigo) == (
        MatchKind.UNIQUE,
        ProductRule.MAPPING,
        "42",
        "SKU-42",
    )


def test_the_id_map_comes_before_the_catalogue() -> None:
    match = match_product(ITEM, linked="77", found=[produto(1, "FA-01")])
    assert (match.kind, match.rule, match.bling_id) == (MatchKind.UNIQUE, ProductRule.ID_MAP, "77")


def test_a_produto_linked_to_another_auvo_item_is_held() -> None:
    match = match_product(ITEM, found=[produto(1, "FA-01")], taken={"1": "another-guid"})
    assert match.kind is MatchKind.AMBIGUOUS and "another-guid" in match.reason
    # linked to this very item (a link re-read after a lost commit): still its match
    assert match_product(ITEM, found=[produto(1, "FA-01")], taken={"1": GUID}).bling_id == "1"


def test_held_carries_the_item_the_candidates_and_the_hint() -> None:
    match = match_product(ITEM, found=[produto(1, "FA-01"), produto(2, "FA-01")])
    error = held(ITEM, match)
    assert isinstance(error, UnmappedProduct) and not error.transient
    assert error.item["code"] == "FA-01" and [c["bling_id"] for c in error.candidates] == ["1", "2"]
    assert "ambiguous" in error.message and "produto 1" in error.message and "produto 2" in error.message
    assert f"auvo-bling products map product {GUID} BLING_ID" in error.hint
    assert (
        "preencha o código do produto no Auvo" in error.hint and "fill the Auvo product's code" in error.hint
    )
    none = held(ITEM, match_product(ITEM))
    assert "no Bling produto matches" in none.message and none.candidates == []
    assert none.diagnosis()["error_class"] == "UnmappedProduct"


def test_rules_an_item_can_take_part_in() -> None:
    assert rules_for(ITEM) == (ProductRule.CODE, ProductRule.EXTERNAL_ID, ProductRule.GTIN)
    assert rules_for(AuvoItem("service", "S1")) == ()
    assert rules_for(AuvoItem("product", GUID, external_id="0")) == ()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (EAN, True),
        (OTHER_EAN, True),
        ("96385074", True),
        ("7891234567896", False),
        ("12345", False),
        ("FA-01", False),
        ("00000000", False),
    ],
)
def test_valid_gtin(value: str, ok: bool) -> None:
    assert valid_gtin(value) is ok


def test_an_auvo_products_gtin_comes_from_its_specification_or_a_gtin_shaped_code() -> None:
    spec = {"code": "FA-01", "productSpecifications": [{"name": "Código de Barras", "Specification": EAN}]}
    assert auvo_gtin(spec) == EAN
    assert auvo_gtin({"code": EAN}) == EAN
    assert auvo_gtin({"code": "123456"}) == ""  # a numeric SKU is not a GTIN
    assert (
        auvo_gtin({"code": "FA-01", "productSpecifications": [{"name": "cor", "Specification": "azul"}]})
        == ""
    )


def test_auvo_item_of_a_task_line_and_its_product_record() -> None:
    line = SaleLine("product", GUID, "Filtro de ar", Decimal(1), Decimal(10), sku="FA-01")
    assert auvo_item(line) == AuvoItem("product", GUID, "Filtro de ar", code="FA-01")
    record = {"productId": GUID, "code": "FA-02", "externalId": "5001"}
    assert auvo_item(line, record) == AuvoItem("product", GUID, "Filtro de ar", "FA-02", "5001")
    service = SaleLine("service", "S1", "Higienização", Decimal(1), Decimal(10))
    assert auvo_item(service, {"code": "X"}) == AuvoItem("service", "S1", "Higienização")


def test_a_held_service_is_told_to_be_mapped_since_it_has_no_code() -> None:
    service = AuvoItem("service", "S1", "Higienização")
    error = held(service, match_product(service))
    assert "auvo-bling products map service S1 BLING_ID" in error.hint
    assert "mapeie o serviço" in error.hint and "código do produto" not in error.hint
