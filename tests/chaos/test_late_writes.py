"""Creates that time out on the client and land in Bling afterwards, made to happen on purpose.

A timeout leaves the client not knowing whether its create happened. The answer of the design is
lookup-before-create: the next attempt looks for the record by its marker (contato `codigo`
AUVO-<id>, produto `codigo` AUVO-P-/AUVO-S-<id>, pedido `numeroLoja` AUVO-TASK-<id>, proposta
`(AUVO-ORC-<id>)` in its internal note) before creating; and while an unanswered create may still
land (twice the client's timeout plus a margin), "not found" is not believed: another event needing
the same record retries later (EntityBusy) instead of creating a second one.
`sims.bling_gate.stall_next` holds one create past the client's timeout, deterministically, then
lets it through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from auvo_bling.wiring import App
from consumers.base import LINKED, UNCHANGED, UPDATED
from consumers.customers.mapping import auvo_marker
from consumers.sales.catalog import BlingCatalog
from consumers.sales.mapping import SaleLine, product_code, quote_marker, task_marker
from contracts.envelope import Envelope
from infra.bus.topology import TO_BLING_CONTACTS, TO_BLING_ORDERS, TO_BLING_PROPOSALS
from infra.errors import ApiUnavailable, EntityBusy
from tests.support import Simulators

pytestmark = pytest.mark.integration

GUID = "7d3c56a2-1b0e-4c1f-9a55-0c2f4e8b9d11"
CLIENT_TIMEOUT, LATE_BY = 0.3, 0.7  # the create lands 0.4 s after the client gave up


class Capture:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)


def events(app: App) -> list[Envelope]:
    capture = Capture()
    for poller in app.pollers(capture):  # type: ignore[arg-type]
        poller.poll_once()
    return capture.published


def bling(sims: Simulators, resource: str) -> list[dict[str, Any]]:
    with sims.bling.lock:
        table = sims.bling.contacts if resource == "contatos" else sims.bling.records[resource]
        return [dict(r) for r in table.values()]


def late(sims: Simulators, resource: str) -> None:
    sims.bling_gate.stall_next("POST", f"/{resource}", LATE_BY)  # type: ignore[attr-defined]


def landed(sims: Simulators, resource: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(bling(sims, resource)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bling(sims, resource)) == count, f"the late create of {resource} never landed"


def product_line() -> dict[str, Any]:
    return {
        "productId": GUID,
        "name": "Filtro de ar",
        "quantity": 2.0,
        "unitaryValue": 35.9,
        "totalValue": 71.8,
    }


def app_for(local_app: Callable[..., App], sims: Simulators, **overrides: Any) -> App:
    bling = {**sims.settings_overrides()["bling"], "timeout_seconds": CLIENT_TIMEOUT}
    return local_app(bling=bling, **overrides)


@pytest.mark.parametrize("kind", ["contato", "produto", "pedido", "proposta"])
def test_a_retried_create_finds_the_record_that_landed_after_its_timeout(
    local_app: Callable[..., App], sims: Simulators, kind: str
) -> None:
    customer = sims.auvo.add_customer("Climatização Tardia Ltda", cpfCnpj="11444777000161")
    if kind == "contato":
        app = app_for(local_app, sims)
        [event] = events(app)
        handler, resource, marker = app.handlers()[TO_BLING_CONTACTS], "contatos", auvo_marker(customer["id"])
    elif kind == "produto":
        app = app_for(local_app, sims)
        catalog = BlingCatalog(app.store, app.bling)
        line = SaleLine("product", GUID, "Filtro de ar", Decimal(2), Decimal("35.9"))

        def handler(_: Envelope) -> str:
            catalog.ensure_product(app.tenant, line)
            return LINKED

        event, resource, marker = None, "produtos", product_code("product", GUID)
    elif kind == "pedido":
        task = sims.auvo.add_task(customer["id"], finished=True, products=[product_line()])
        app = app_for(local_app, sims, tasks={"enabled": True})
        [event] = [e for e in events(app) if e.type == TO_BLING_ORDERS.event_type]
        handler, resource, marker = (
            app.handlers()[TO_BLING_ORDERS],
            "pedidos/vendas",
            task_marker(task["taskID"]),
        )
    else:
        sims.auvo.add_record("products", {"productId": GUID, "code": "FA-01", "name": "Filtro de ar"})
        quote = sims.auvo.add_record(
            "quotations",
            {
                "customerId": customer["id"],
                "products": [{"productId": GUID, "amout": 2, "UnitaryValue": "35.90"}],
                "CurrentStage": {"id": 3, "description": "Aprovado", "position": 3, "isCancelled": False},
            },
        )
        app = app_for(local_app, sims, quotes={"enabled": True, "stage": "Aprovado"})
        [event] = [e for e in events(app) if e.type == TO_BLING_PROPOSALS.event_type]
        handler = app.handlers()[TO_BLING_PROPOSALS]
        resource, marker = "propostas-comerciais", f"({quote_marker(quote['publicId'])})"

    late(sims, resource)
    with pytest.raises(ApiUnavailable, match="timed out"):
        handler(event)  # type: ignore[arg-type]
    landed(sims, resource, 1)
    assert handler(event) in {UPDATED, UNCHANGED, LINKED}  # type: ignore[arg-type]  # the retry
    records = bling(sims, resource)
    assert len(records) == 1
    found = str(
        records[0].get("codigo") or records[0].get("numeroLoja") or records[0].get("observacaoInterna")
    )
    assert marker in found
    assert sims.bling_gate.stalled == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["contato", "produto"])
def test_another_event_during_a_late_create_makes_no_second_record(
    local_app: Callable[..., App], sims: Simulators, kind: str
) -> None:
    customer = sims.auvo.add_customer("Refrigeração Concorrente Ltda", cpfCnpj="11444777000161")
    app = app_for(local_app, sims, tasks={"enabled": True})
    if kind == "contato":
        [event] = [e for e in events(app) if e.type == TO_BLING_CONTACTS.event_type]
        contacts = app.handlers()[TO_BLING_CONTACTS]
        late(sims, "contatos")
        with pytest.raises(ApiUnavailable, match="timed out"):
            contacts(event)  # the customer's own event: its create times out, and lands later
        # meanwhile a task of that customer needs the contato: the create is in doubt, so it waits
        ensure = contacts.ensure_contact  # type: ignore[attr-defined]
        with pytest.raises(EntityBusy, match="may still land"):
            ensure(app.tenant, customer["id"], app.auvo.get_customer)
        landed(sims, "contatos", 1)
        bling_id = ensure(app.tenant, customer["id"], app.auvo.get_customer)  # its retry links it
        codes = [c.get("codigo") for c in bling(sims, "contatos")]
        assert codes.count(auvo_marker(customer["id"])) == 1, codes
        assert str(bling_id) == str(bling(sims, "contatos")[0]["id"])
    else:
        catalog = BlingCatalog(app.store, app.bling)
        line = SaleLine("product", GUID, "Filtro de ar", Decimal(2), Decimal("35.9"))
        late(sims, "produtos")
        with pytest.raises(ApiUnavailable, match="timed out"):
            catalog.ensure_product(app.tenant, line)  # one task's create times out, and lands later
        with pytest.raises(EntityBusy, match="may still land"):
            catalog.ensure_product(app.tenant, line)  # the next task selling the same product waits
        landed(sims, "produtos", 1)
        bling_id = catalog.ensure_product(app.tenant, line)  # and its retry links the late one
        codes = [p.get("codigo") for p in bling(sims, "produtos")]
        assert codes.count(product_code("product", GUID)) == 1, codes
        assert bling_id.id == int(bling(sims, "produtos")[0]["id"])
