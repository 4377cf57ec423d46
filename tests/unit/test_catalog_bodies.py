"""The catalogue Bling -> Auvo, its pure parts by table: translation, patches, the poller's choice of
what to publish, the webhook's events, and the simulator's stock notification."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.catalog.auvo_items import catalog_item, create_body, patch_ops
from contracts.envelope import Envelope
from contracts.events import BlingProduto, bling_product_changed
from producers.bling_catalog import CURSOR, SWEPT, BlingCatalogPoller
from producers.webhooks.bling_catalog_notifications import BlingCatalogEvents
from producers.webhooks.bling_notifications import parse_bling_notification, stream_of
from simulators.bling import BlingState

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def produto(**fields: Any) -> dict[str, Any]:
    base = {"id": 16000000001, "nome": "Filtro de ar", "codigo": "FA-01", "preco": 35.9, "precoCusto": 12.0,
            "tipo": "P", "situacao": "A", "formato": "S", "estoque": {"saldoVirtualTotal": 8.0}}
    return {**base, **fields}


# --- translation ---------------------------------------------------------------------------------------

CREATES = [
    (produto(), {"name": "Filtro de ar", "externalId": "16000000001", "unitaryValue": "35,90",
                 "unitaryCost": "12,00", "totalStock": 8, "active": True}),
    (produto(situacao="I", preco=None, precoCusto=None, estoque=None),
     {"name": "Filtro de ar", "externalId": "16000000001", "unitaryValue": "0,00", "unitaryCost": "0,00",
      "totalStock": 0, "active": False}),
    (produto(estoque={"saldoVirtualTotal": 2.5}, preco=1234.567),
     {"name": "Filtro de ar", "externalId": "16000000001", "unitaryValue": "1234,57", "unitaryCost": "12,00",
      "totalStock": 2.5, "active": True}),
    (produto(nome="", codigo="SKU-9"), {"name": "SKU-9", "externalId": "16000000001", "unitaryValue": "35,90",
                                        "unitaryCost": "12,00", "totalStock": 8, "active": True}),
    (produto(tipo="S", nome="Mão de obra", preco=120),
     {"title": "Mão de obra", "price": 120.0, "active": True}),
    (produto(tipo="N", nome="Serviço", preco=10.5, situacao="I"),
     {"title": "Serviço", "price": 10.5, "active": False}),
]


@pytest.mark.parametrize(("record", "body"), CREATES)
def test_create_bodies(record: dict[str, Any], body: dict[str, Any]) -> None:
    assert create_body(catalog_item(BlingProduto.model_validate(record))) == body


PATCHES = [
    # Auvo's record as its API shows it -> the ops that bring it to the produto
    ({"name": "Filtro de ar", "externalId": "16000000001", "unitaryValue": "35,90", "unitaryCost": "12,00",
      "totalStock": 8, "active": True}, []),
    ({"name": "Filtro de ar", "externalId": "16000000001", "unitaryValue": "35.9", "unitaryCost": 12,
      "totalStock": "8", "active": True}, []),  # the same values spelled otherwise: nothing to write
    ({"name": "Filtro", "externalId": "", "unitaryValue": "35,90", "unitaryCost": "12,00", "totalStock": 7,
      "active": True}, ["name", "externalId", "totalStock"]),
    ({"Name": "Filtro de ar", "ExternalId": "16000000001", "UnitaryValue": "30,00", "unitaryCost": "12,00",
      "totalStock": 8, "Active": False}, ["unitaryValue", "active"]),
]


@pytest.mark.parametrize(("current", "paths"), PATCHES)
def test_patches_name_only_what_differs(current: dict[str, Any], paths: list[str]) -> None:
    ops = patch_ops(catalog_item(BlingProduto.model_validate(produto())), current)
    assert [op["path"] for op in ops] == paths
    assert all(op["op"] == "replace" for op in ops)


def test_the_fingerprint_follows_what_auvo_shows() -> None:
    item = catalog_item(BlingProduto.model_validate(produto()))
    assert catalog_item(BlingProduto.model_validate(produto(formato="V"))).fingerprint() == item.fingerprint()
    assert catalog_item(BlingProduto.model_validate(produto(preco=36))).fingerprint() != item.fingerprint()
    stock = produto(estoque={"saldoVirtualTotal": 9})
    assert catalog_item(BlingProduto.model_validate(stock)).fingerprint() != item.fingerprint()


def test_a_stock_back_and_forth_is_three_events() -> None:
    ten, nine = produto(estoque={"saldoVirtualTotal": 10}), produto(estoque={"saldoVirtualTotal": 9})
    ids = [bling_product_changed(r, observed_at=NOW + timedelta(seconds=i)).event_id
           for i, r in enumerate((ten, nine, ten))]
    assert len(set(ids)) == 3
    versions = [bling_product_changed(ten, observed_at=NOW + timedelta(microseconds=m)).entity_version
                for m in (0, 1)]
    assert versions[0] < versions[1]  # fixed width: a whole second still compares right


# --- the poller ----------------------------------------------------------------------------------------


class Catalogue:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.calls: list[dict[str, Any]] = []

    def iter_products(self, **filters: Any) -> Any:
        self.calls.append(filters)
        return iter(self.records)


class Published:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


class Failing:
    def publish(self, envelope: Envelope) -> None:
        raise ConnectionError("broker away")


class Cursors:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def cursor(self, tenant: str, key: str) -> str | None:
        return self.values.get(key)

    def set_cursor(self, tenant: str, key: str, value: str) -> None:
        self.values[key] = value


def test_the_poller_sweeps_first_then_lists_the_window_and_publishes_changes_only() -> None:
    now = [NOW]
    bling, out, cursors = Catalogue([produto(), produto(id=2, tipo="S")]), Published(), Cursors()
    poller = BlingCatalogPoller(bling, out, cursors, sweep_seconds=900, clock=lambda: now[0])
    assert poller.poll_once() == 2
    assert "dataAlteracaoInicial" not in bling.calls[0]  # the first pass is a sweep
    now[0] += timedelta(seconds=5)
    assert poller.poll_once() == 0  # listed again, unchanged: nothing
    assert "dataAlteracaoInicial" in bling.calls[1]
    bling.records[0] = produto(estoque={"saldoVirtualTotal": 3})
    now[0] += timedelta(seconds=5)
    assert poller.poll_once() == 1
    assert out.envelopes[-1].payload["produto"]["estoque"] == {"saldoVirtualTotal": 3.0}
    now[0] += timedelta(seconds=900)
    poller.poll_once()
    assert "dataAlteracaoInicial" not in bling.calls[-1]  # the sweep is due again
    assert cursors.values[SWEPT] == now[0].isoformat()


def test_the_poller_moves_nothing_when_a_publish_fails() -> None:
    bling, cursors = Catalogue([produto()]), Cursors()
    with pytest.raises(ConnectionError):
        BlingCatalogPoller(bling, Failing(), cursors, clock=lambda: NOW).poll_once()
    assert CURSOR not in cursors.values and SWEPT not in cursors.values
    poller = BlingCatalogPoller(bling, Published(), cursors, clock=lambda: NOW)
    assert poller.poll_once() == 1  # nothing was remembered as published


# --- webhooks ------------------------------------------------------------------------------------------


def notification(event: str, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    body = {"eventId": "e1", "date": "2026-03-02T12:00:00-03:00", "event": event, "data": data}
    return parse_bling_notification(body), data


def test_a_stock_notification_names_its_produto_and_publishes_after_one_read() -> None:
    parsed, data = notification("stock.updated", {"produto": {"id": 16000000001}, "saldoVirtualTotal": 3})
    assert (parsed.record_id, stream_of(parsed)) == ("16000000001", "bling.products")
    bling = Catalogue([produto(estoque={"saldoVirtualTotal": 3})])
    [event] = BlingCatalogEvents(bling).events(parsed, data)
    assert bling.calls == [{"idsProdutos[]": ["16000000001"]}]
    assert event.payload["produto"]["estoque"]["saldoVirtualTotal"] == 3.0


def test_a_complete_product_notification_needs_no_read_and_a_deletion_publishes_nothing() -> None:
    bling = Catalogue([])
    events = BlingCatalogEvents(bling)
    assert len(events.events(*notification("product.updated", produto()))) == 1
    assert events.events(*notification("product.deleted", {"id": 16000000001})) == []
    assert events.events(*notification("order.updated", {"id": 5})) == []
    assert bling.calls == []
    parsed, _ = notification("product.updated", {"id": 7})
    assert BlingCatalogEvents(bling).events(parsed, {"id": 7}) == []  # gone by the time it was read
    assert bling.calls == [{"idsProdutos[]": ["7"]}]


def test_the_bling_simulator_notifies_a_stock_movement_without_touching_the_change_stamp() -> None:
    state = BlingState()
    record = state.add_record("produtos", {"nome": "Filtro", "tipo": "P", "situacao": "A", "formato": "S"})
    sent: list[bytes] = []
    state.configure_webhooks("http://receiver.invalid/webhooks/bling", secret="s3cret")
    state.webhooks.send = lambda url, body, headers: sent.append(body)  # type: ignore[method-assign]
    stamp = state.records["produtos"][record["id"]]["_dataAlteracao"]
    state.move_stock(record["id"], 4)
    assert state.records["produtos"][record["id"]]["_dataAlteracao"] == stamp
    body = json.loads(sent[0])
    assert body["event"] == "stock.updated" and body["data"]["produto"]["id"] == record["id"]
    assert state.records["produtos"][record["id"]]["estoque"]["saldoVirtualTotal"] == 4.0
