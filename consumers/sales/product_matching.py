"""Which Bling produto sells an Auvo product or service: one rule, pure, decided before anything is created.

A company that runs Bling as its ERP already has its catalogue there (SKUs, GTINs, NCM, stock). A
pedido must sell *those* produtos, not shadows of them, so every Auvo item is matched first, in this
order (the first rule that answers decides; the later ones are not consulted):

1. `mapping`: the explicit mapping a person made (`auvo-bling products map`); it wins over every rule.
2. `id_map`: the link recorded the first time the item was resolved.
3. `marker`: a produto whose `codigo` is our marker `AUVO-P-<id>` / `AUVO-S-<id>`, i.e. one we created
   earlier whose link commit was lost (a crash after the create): it is ours, so it is linked again.
4. the company's catalogue, all three together:
   - `code`: the produto whose `codigo` equals the Auvo item's `code` (its SKU);
   - `external_id`: the produto whose id is the Auvo item's `externalId` (digits only: Auvo products
     may carry another ERP's key);
   - `gtin`: the produto whose GTIN equals the Auvo item's, where both have one.
   One produto found, by one rule or by several agreeing: linked. Two produtos for one rule (the same
   code or GTIN on two produtos), or rules pointing at different produtos: ambiguous, held for a person.
   A produto already linked to another Auvo item of the same kind is held too (the id map keeps one
   Auvo item per produto, as the customer rule keeps one customer per contato).
5. none: the caller creates the produto (`catalog.unmatched = "create"`) or holds the event
   (`"hold"`); ambiguity is held in both modes.

Auvo services carry only an id and a title (blueprint "Service"): for them only the mapping, the id map
and the marker apply. Auvo has no GTIN field: a product's GTIN is its specification named GTIN / EAN /
código de barras, else its `code` when that is a well-formed GTIN (check digit included), since many
companies use the EAN as their SKU.

Same shape as the customer rule (`consumers.customers.matching`): `MatchKind` UNIQUE / AMBIGUOUS / NONE.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from consumers.customers.matching import MatchKind, id_order
from consumers.sales.mapping import LineKind, SaleLine, product_code
from infra.errors import UnmappedProduct

GTIN_LENGTHS = frozenset({8, 12, 13, 14})
GTIN_SPECIFICATIONS = frozenset({"gtin", "ean", "gtin/ean", "ean/gtin", "codigo de barras", "barcode"})


class ProductRule(StrEnum):
    MAPPING = "mapping"
    ID_MAP = "id_map"
    MARKER = "marker"
    CODE = "code"
    EXTERNAL_ID = "external_id"
    GTIN = "gtin"


CATALOGUE_RULES = (ProductRule.CODE, ProductRule.EXTERNAL_ID, ProductRule.GTIN)


@dataclass(frozen=True)
class AuvoItem:
    """What matching needs of an Auvo product or service."""

    kind: LineKind
    auvo_id: str
    name: str = ""
    code: str = ""  # Auvo's `code`: the company's SKU
    external_id: str = ""
    gtin: str = ""

    @property
    def marker(self) -> str:
        return product_code(self.kind, self.auvo_id)

    @property
    def external_bling_id(self) -> str | None:
        """The `externalId` as a Bling produto id, if it can be one."""
        value = self.external_id.strip()
        return str(int(value)) if value.isdigit() and int(value) > 0 else None

    def describe(self) -> dict[str, str]:
        out = {"kind": self.kind, "auvo_id": self.auvo_id, "name": self.name}
        out.update(
            {
                k: v
                for k, v in (("code", self.code), ("external_id", self.external_id), ("gtin", self.gtin))
                if v
            }
        )
        return out


@dataclass(frozen=True)
class BlingProduct:
    """What matching needs of a Bling produto; `gtin` is "" when unknown (the list does not carry it)."""

    id: str
    codigo: str = ""
    gtin: str = ""

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> BlingProduct:
        return cls(str(record["id"]), str(record.get("codigo") or ""), str(record.get("gtin") or ""))


@dataclass(frozen=True)
class Candidate:
    rule: ProductRule
    bling_id: str
    codigo: str = ""

    def describe(self) -> dict[str, str]:
        return {"rule": self.rule.value, "bling_id": self.bling_id, "codigo": self.codigo}


@dataclass(frozen=True)
class ProductMatch:
    kind: MatchKind
    rule: ProductRule | None = None  # set when UNIQUE
    bling_id: str | None = None  # set when UNIQUE
    codigo: str = ""  # the chosen produto's codigo, when known
    candidates: tuple[Candidate, ...] = ()
    reason: str = ""  # why it is ambiguous


def rules_for(item: AuvoItem) -> tuple[ProductRule, ...]:
    """The catalogue rules this item can take part in (what Bling must be asked)."""
    rules = []
    if item.code:
        rules.append(ProductRule.CODE)
    if item.external_bling_id:
        rules.append(ProductRule.EXTERNAL_ID)
    if item.gtin:
        rules.append(ProductRule.GTIN)
    return tuple(rules)


def match_product(
    item: AuvoItem,
    *,
    mapped: Candidate | None = None,
    linked: str | None = None,
    found: Iterable[BlingProduct] = (),
    taken: Mapping[str, str] | None = None,
) -> ProductMatch:
    """The produto of `item`, from the mapping, the id map, or the produtos Bling returned.

    `found` are the produtos Bling's lists gave for the item's marker, code, id and GTIN (each read
    as far as known; whatever matches no rule is ignored, so an over-broad answer cannot link a
    stranger). `taken` maps a Bling produto id to the Auvo item of the same kind it is linked to.
    """
    if mapped is not None:
        return ProductMatch(MatchKind.UNIQUE, ProductRule.MAPPING, mapped.bling_id, mapped.codigo, (mapped,))
    if linked is not None:
        return ProductMatch(MatchKind.UNIQUE, ProductRule.ID_MAP, linked)
    produtos = {p.id: p for p in found}
    ours = sorted((p for p in produtos.values() if p.codigo == item.marker), key=lambda p: id_order(p.id))
    if len(ours) == 1:
        return ProductMatch(
            MatchKind.UNIQUE,
            ProductRule.MARKER,
            ours[0].id,
            ours[0].codigo,
            (Candidate(ProductRule.MARKER, ours[0].id, ours[0].codigo),),
        )
    if ours:
        cands = tuple(Candidate(ProductRule.MARKER, p.id, p.codigo) for p in ours)
        return ProductMatch(
            MatchKind.AMBIGUOUS,
            candidates=cands,
            reason=f"{len(ours)} Bling produtos carry our codigo {item.marker}",
        )
    candidates = [
        Candidate(rule, p.id, p.codigo)
        for rule in rules_for(item)
        for p in sorted(produtos.values(), key=lambda p: id_order(p.id))
        if _satisfies(rule, item, p)
    ]
    if not candidates:
        return ProductMatch(MatchKind.NONE)
    cands = tuple(candidates)
    for rule in CATALOGUE_RULES:
        same = [c for c in candidates if c.rule is rule]
        if len(same) > 1:
            return ProductMatch(
                MatchKind.AMBIGUOUS,
                candidates=cands,
                reason=f"{len(same)} Bling produtos have the same {_what(rule, item)}",
            )
    ids = sorted({c.bling_id for c in candidates}, key=id_order)
    if len(ids) > 1:
        return ProductMatch(
            MatchKind.AMBIGUOUS, candidates=cands, reason="the rules point at different Bling produtos"
        )
    owner = (taken or {}).get(ids[0])
    if owner is not None and owner != item.auvo_id:
        return ProductMatch(
            MatchKind.AMBIGUOUS,
            candidates=cands,
            reason=f"Bling produto {ids[0]} is already linked to Auvo {item.kind} {owner}",
        )
    first = candidates[0]
    return ProductMatch(MatchKind.UNIQUE, first.rule, first.bling_id, first.codigo, cands)


def _satisfies(rule: ProductRule, item: AuvoItem, produto: BlingProduct) -> bool:
    if rule is ProductRule.CODE:
        return produto.codigo == item.code
    if rule is ProductRule.EXTERNAL_ID:
        return produto.id == item.external_bling_id
    return bool(produto.gtin) and produto.gtin == item.gtin


def _what(rule: ProductRule, item: AuvoItem) -> str:
    return f"codigo {item.code}" if rule is ProductRule.CODE else f"GTIN {item.gtin}"


def held(item: AuvoItem, match: ProductMatch) -> UnmappedProduct:
    """The error that holds the event for a person: the item, what was found, and how to fix it."""
    what = f"Auvo {item.kind} {item.auvo_id}"
    if item.name:
        what += f" ({item.name!r})"
    if match.kind is MatchKind.AMBIGUOUS:
        found = "; ".join(
            f"produto {c.bling_id} (codigo {c.codigo or '-'}) by {c.rule}" for c in match.candidates
        )
        message = f"{what}: ambiguous: {match.reason}: {found}; nothing was linked or created"
    else:
        keys = ", ".join(
            f"{k} {v}" for k, v in item.describe().items() if k in ("code", "external_id", "gtin")
        )
        message = (
            f"{what}: no Bling produto matches ({keys or 'the item carries no code, externalId or GTIN'}) "
            "and catalog.unmatched is hold; nothing was created"
        )
    command = f"auvo-bling products map {item.kind} {item.auvo_id} BLING_ID"
    if item.kind == "product":
        fix_pt = "preencha o código do produto no Auvo (igual ao código/SKU no Bling) ou mapeie com"
        fix_en = "fill the Auvo product's code (equal to its code/SKU in Bling) or map it with"
    else:  # an Auvo service has no code to fill
        fix_pt, fix_en = "mapeie o serviço com", "map the service with"
    hint = (
        f"{fix_pt} `{command}`, depois reenvie / {fix_en} `{command}`, then replay (`auvo-bling dlq replay`)"
    )
    return UnmappedProduct(
        message, item=item.describe(), candidates=[c.describe() for c in match.candidates], hint=hint
    )


# --- what an Auvo item carries -----------------------------------------------------------------------


def valid_gtin(value: str) -> bool:
    """GTIN-8/12/13/14 with a correct check digit (so an ordinary numeric SKU is not taken for one)."""
    if not value.isdigit() or len(value) not in GTIN_LENGTHS or set(value) == {"0"}:
        return False
    body, check = value[:-1], int(value[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in folded if not unicodedata.combining(c))


def auvo_gtin(record: Mapping[str, Any]) -> str:
    """The GTIN of an Auvo product record: a GTIN / EAN specification, else a GTIN-shaped `code`."""
    for spec in record.get("productSpecifications") or []:
        if isinstance(spec, Mapping) and _plain(str(spec.get("name") or "")) in GTIN_SPECIFICATIONS:
            value = "".join(str(spec.get("Specification") or spec.get("specification") or "").split())
            if value:
                return value
    code = str(record.get("code") or "").strip()
    return code if valid_gtin(code) else ""


def auvo_item(line: SaleLine, record: Mapping[str, Any] | None = None) -> AuvoItem:
    """The item of a sale line, completed with its Auvo product record (`GET /products/{id}`) if read."""
    if line.kind == "service":
        return AuvoItem("service", line.auvo_id, line.name)
    record = record or {}
    code = str(record.get("code") or line.sku or "").strip()
    return AuvoItem(
        "product",
        line.auvo_id,
        line.name,
        code=code,
        external_id=str(record.get("externalId") or "").strip(),
        gtin=auvo_gtin({**record, "code": code}),
    )
