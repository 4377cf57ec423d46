"""`auvo-bling products ...`: the explicit mapping of Auvo products and services to Bling produtos.

A person's mapping wins over every matching rule (consumers/sales/product_matching.py). Mapping an
item forgets the id-map link it may have (so an `unmap` later lets the rules decide afresh, instead
of bringing back a link the person overrode); the dead letters held as `UnmappedProduct` are then
replayed with `auvo-bling dlq replay --error-class UnmappedProduct`. The functions below are what
the commands do, so the web console can call the same code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auvo_bling.cli_options import ConfigOption, TenantOption, tenant_app

if TYPE_CHECKING:
    from auvo_bling.wiring import App
    from infra.store import ProductMapping

KINDS = ("product", "service")

products_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Map Auvo products and services to the produtos of the company's Bling catalogue.",
)


def _kind(value: str) -> str:
    if value not in KINDS:
        raise typer.BadParameter(f"{value!r}: must be one of {', '.join(KINDS)}", param_hint="KIND")
    return value


def map_product(app: App, kind: str, auvo_id: str, bling_id: int) -> ProductMapping:
    """Record a person's mapping; the Bling produto must exist (it is read for its codigo)."""
    from infra.store.product_mappings import MANUAL

    produto = app.bling.get_product(int(bling_id))
    codigo = str(produto.get("codigo") or "")
    store, tenant = app.store, app.tenant
    with store.transaction() as conn:
        store.record_product_mapping(
            conn, tenant, kind, auvo_id, str(produto.get("id", bling_id)), codigo, MANUAL
        )
    store.forget_link(tenant, kind, auvo_id=auvo_id)
    mapping = store.product_mapping(tenant, kind, auvo_id)
    assert mapping is not None
    return mapping


def unmap_product(app: App, kind: str, auvo_id: str) -> bool:
    """Remove a person's mapping (a rule's record is not a mapping: it stays with its link)."""
    current = app.store.product_mapping(app.tenant, kind, auvo_id)
    if current is None or not current.manual:
        return False
    with app.store.transaction() as conn:
        return app.store.remove_product_mapping(conn, app.tenant, kind, auvo_id)


@dataclass(frozen=True)
class ProductRow:
    kind: str
    auvo_id: str
    code: str
    name: str
    bling_id: str | None
    codigo: str | None
    how: str | None  # "manual", the rule that matched, "linked" (created or found by our marker), None


def product_rows(app: App, *, unmapped_only: bool = False) -> list[ProductRow]:
    """Every Auvo product and service with the Bling produto it sells as, and how that was decided."""
    store, tenant = app.store, app.tenant
    mappings = {(m.kind, m.auvo_id): m for m in store.product_mappings(tenant)}
    links = {kind: {p.auvo_id: p.bling_id for p in store.id_pairs(tenant, kind)} for kind in KINDS}
    auvo_items = [
        ("product", str(p.get("productId") or ""), str(p.get("code") or ""), str(p.get("name") or ""))
        for p in app.auvo.iter_products()
    ] + [("service", str(s.get("id") or ""), "", str(s.get("title") or "")) for s in app.auvo.iter_services()]
    rows = []
    for kind, auvo_id, code, name in auvo_items:
        mapping = mappings.get((kind, auvo_id))
        linked = links[kind].get(auvo_id)
        if mapping is not None and (mapping.manual or mapping.bling_id == linked):
            row = ProductRow(kind, auvo_id, code, name, mapping.bling_id, mapping.codigo, mapping.source)
        elif linked is not None:
            row = ProductRow(kind, auvo_id, code, name, linked, None, "linked")
        else:
            row = ProductRow(kind, auvo_id, code, name, None, None, None)
        if not unmapped_only or row.bling_id is None:
            rows.append(row)
    return rows


@products_app.command("map")
def map_(
    kind: Annotated[str, typer.Argument(help="product or service.")],
    auvo_id: Annotated[str, typer.Argument(help="The Auvo product id (productId GUID) or service id.")],
    bling_id: Annotated[int, typer.Argument(help="The Bling produto id it is sold as.")],
    config: ConfigOption = None,
    tenant: TenantOption = None,
) -> None:
    """Sell an Auvo product or service as this Bling produto (wins over every matching rule)."""
    from infra.errors import NotFound

    kind = _kind(kind)
    app = tenant_app(config, tenant)
    try:
        try:
            mapping = map_product(app, kind, auvo_id, bling_id)
        except NotFound:
            typer.echo(f"Bling has no produto {bling_id}; nothing was mapped", err=True)
            raise typer.Exit(1) from None
        typer.echo(
            f"{kind} {auvo_id} -> Bling produto {mapping.bling_id} (codigo {mapping.codigo or '-'}); "
            "replay what was held: auvo-bling dlq replay --error-class UnmappedProduct"
        )
    finally:
        app.close()


@products_app.command("unmap")
def unmap(
    kind: Annotated[str, typer.Argument(help="product or service.")],
    auvo_id: Annotated[str, typer.Argument(help="The Auvo product or service id.")],
    config: ConfigOption = None,
    tenant: TenantOption = None,
) -> None:
    """Remove a mapping: the matching rules decide this item's produto again on its next pedido."""
    kind = _kind(kind)
    app = tenant_app(config, tenant)
    try:
        if unmap_product(app, kind, auvo_id):
            typer.echo(f"{kind} {auvo_id}: mapping removed")
        else:
            typer.echo(f"{kind} {auvo_id}: not mapped by hand")
            raise typer.Exit(1)
    finally:
        app.close()


@products_app.command("list")
def list_(
    unmapped: Annotated[
        bool, typer.Option("--unmapped", help="Only the items with no produto yet (no mapping, no link).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    config: ConfigOption = None,
    tenant: TenantOption = None,
) -> None:
    """Auvo products and services and the Bling produto each sells as (read from Auvo and the store)."""
    app = tenant_app(config, tenant)
    try:
        rows = product_rows(app, unmapped_only=unmapped)
    finally:
        app.close()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("every Auvo product and service has its Bling produto" if unmapped else "no Auvo items")
        return
    typer.echo(f"{'kind':<8} {'auvo id':<38} {'code':<14} {'bling id':<12} {'how':<12} name")
    for r in rows:
        fields: list[Any] = [r.kind, r.auvo_id, r.code or "-", r.bling_id or "-", r.how or "-"]
        typer.echo(f"{fields[0]:<8} {fields[1]:<38} {fields[2]:<14} {fields[3]:<12} {fields[4]:<12} {r.name}")
