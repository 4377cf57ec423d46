"""Quota cost of finding an Auvo item's Bling produto: requests to Bling and Auvo per item, by how it
was found, the first time it is sold and every time after (the id map answers then).

Runs the real catalogue writer against both simulators over HTTP with a SQLite store, counting the
requests the simulators served, measured in one run:

    python bench/catalog_matching_cost.py
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from consumers.sales.catalog import BlingCatalog
from consumers.sales.mapping import SaleLine
from infra.errors import UnmappedProduct
from infra.settings import Settings
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.seed import seed_bling_catalogue
from simulators.server import serve_in_thread

CLIENT_ID, SECRET, REDIRECT = "bench-client", "bench-secret-0123456789", "http://127.0.0.1:8765/callback"
EAN = "7891234567895"


def main() -> None:
    auvo, bling = AuvoState(rate_limit_per_minute=60_000), BlingState(rate_limit_per_second=1_000)
    bling.register_app(CLIENT_ID, SECRET, REDIRECT)
    auvo_server, bling_server = (
        serve_in_thread(create_auvo_app(auvo)),
        serve_in_thread(create_bling_app(bling)),
    )
    workdir = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    try:
        [by_code, by_id, by_gtin] = seed_bling_catalogue(
            bling,
            [
                {"nome": "Filtro", "codigo": "FA-01", "preco": 35.9},
                {"nome": "Gás", "codigo": "GR410-1KG", "preco": 120.0},
                {"nome": "Capacitor", "codigo": "CAP-35UF", "preco": 42.5, "gtin": EAN},
            ],
        )
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("code", "FA-01", {}),
            ("external_id", "GR-410", {"externalId": str(by_id["id"])}),
            ("gtin", "CP-35", {"productSpecifications": [{"name": "GTIN", "Specification": EAN}]}),
            ("none -> create", "XX-01", {}),
            ("none -> hold", "XX-02", {}),
        ]
        assert by_code and by_gtin
        print(f"{'found by':<16} {'first sale: Bling':>18} {'Auvo':>6} {'next sale: Bling':>17} {'Auvo':>6}")
        for i, (name, code, extra) in enumerate(cases):
            guid = f"6a1e1f52-b262-410a-a409-cc25ba92d{i:03d}"
            auvo.add_record("products", {"productId": guid, "code": code, "name": name, **extra})
            mode = "hold" if "hold" in name else "create"
            settings = Settings(
                amqp_url="memory://",
                database_url=f"sqlite:///{workdir / f'{i}.sqlite3'}",
                secret_key="bench-secret-key-for-token-encryption",
                auvo={
                    "base_url": f"{auvo_server.url}/v2",
                    "api_key": auvo.api_key,
                    "api_token": auvo.api_token,
                },
                bling={
                    "base_url": f"{bling_server.url}/Api/v3",
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                    "redirect_uri": REDIRECT,
                },
                catalog={"unmatched": mode},
            )
            app = App(settings)
            authorize_headless(app)
            catalog = BlingCatalog(app.store, app.bling, auvo=app.auvo, unmatched=settings.catalog.unmatched)
            line = SaleLine("product", guid, name, Decimal(1), Decimal(10), sku=code)
            app.auvo.get_product(guid)  # log in to Auvo first: the login is not the matching's cost
            sell = partial(catalog.ensure_product, app.tenant, line)
            first, later = _count(auvo, bling, sell), _count(auvo, bling, sell)
            print(f"{name:<16} {first[1]:>18} {first[0]:>6} {later[1]:>17} {later[0]:>6}")
            app.close()
    finally:
        auvo_server.stop()
        bling_server.stop()
    print("(requests the simulators served; Bling's list pages until its empty page, so a hit costs 2)")


def _count(auvo: AuvoState, bling: BlingState, call: Callable[[], Any]) -> tuple[int, int]:
    auvo_before, bling_before = sum(auvo.calls.values()), sum(bling.calls.values())
    with contextlib.suppress(UnmappedProduct):  # held: what it cost to find nothing is the figure
        call()
    return sum(auvo.calls.values()) - auvo_before, sum(bling.calls.values()) - bling_before


if __name__ == "__main__":
    main()
