"""`customers.direction = both`: changes propagate once and stop; concurrent changes resolve to
the newer one; customers that already exist on both sides are linked, not duplicated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import Running, start
from auvo_bling.wiring import App
from consumers.customers.mapping import auvo_marker
from simulators.seed import seed_auvo_customers, seed_bling_contacts
from tests.support import Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration


def writes(sims: Simulators) -> dict[str, int]:
    """Every write either simulator received, by (method, resource)."""
    out = {f"bling {m} {r}": n for (m, r), n in sims.bling.writes.items()}
    out.update({f"auvo {m} {r}": n for (m, r), n in sims.auvo.writes.items()})
    return out


def total_writes(sims: Simulators) -> int:
    return sum(writes(sims).values())


def settle(sims: Simulators, quiet_for: float = 2.5, timeout: float = 30) -> None:
    """Wait until no simulator has been written to for `quiet_for` seconds."""
    deadline = time.monotonic() + timeout
    last, since = total_writes(sims), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = total_writes(sims)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_for:
            return
    raise AssertionError("the simulators never stopped being written to: a ping-pong?")


class Bridge:
    """The integration running in `both` mode, stoppable to stage concurrent changes."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.running: Running | None = None

    def start(self) -> None:
        self.running = start(self.app, poll_interval=0.3)

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


@pytest.fixture
def bridge(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[Bridge]:
    app = App(
        build_settings(
            amqp_url,
            pg_url,
            sims,
            customers={"direction": "both"},
            poll={"interval_seconds": 0.3, "max_interval_seconds": 1.0, "overlap_seconds": 2},
            bus={"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix},
        )
    )
    authorize_headless(app)
    bridge = Bridge(app)
    try:
        yield bridge
    finally:
        bridge.stop()
        app.close()


def contact_of(sims: Simulators, auvo_id: int) -> dict[str, Any]:
    with sims.bling.lock:
        [contact] = [c for c in sims.bling.contacts.values() if c.get("codigo") == auvo_marker(auvo_id)]
        return dict(contact)


def customer_of(sims: Simulators, bling_id: int) -> dict[str, Any]:
    with sims.auvo.lock:
        [customer] = [c for c in sims.auvo.customers.values() if c.get("externalId") == str(bling_id)]
        return dict(customer)


def initial_sync(bridge: Bridge, sims: Simulators) -> tuple[list[int], list[int]]:
    auvo_ids = [c["id"] for c in seed_auvo_customers(sims.auvo, 6, rng_seed=31)]
    bling_ids = [c["id"] for c in seed_bling_contacts(sims.bling, 6, rng_seed=32)]
    bridge.start()
    wait_until(lambda: len(sims.bling.contacts) == 12 and len(sims.auvo.customers) == 12, 40, "initial sync")
    settle(sims)
    return auvo_ids, bling_ids


def test_an_auvo_change_propagates_once_and_stops(bridge: Bridge, sims: Simulators) -> None:
    auvo_ids, _ = initial_sync(bridge, sims)
    before = writes(sims)
    sims.auvo.update_customer(auvo_ids[0], description="Padaria Pão Quente Ltda")
    wait_until(lambda: contact_of(sims, auvo_ids[0])["nome"] == "Padaria Pão Quente Ltda", 20, "the change")
    settle(sims)
    after = writes(sims)
    changed = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert changed == {"bling PUT contatos": 1}, changed


def test_a_bling_change_propagates_once_and_stops(bridge: Bridge, sims: Simulators) -> None:
    _, bling_ids = initial_sync(bridge, sims)
    before = writes(sims)
    sims.bling.update_contact(bling_ids[0], email="financeiro@novaempresa.com.br")
    wait_until(
        lambda: customer_of(sims, bling_ids[0])["email"] == ["financeiro@novaempresa.com.br"],
        20,
        "the change",
    )
    settle(sims)
    after = writes(sims)
    changed = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert changed == {"auvo PUT customers": 1}, changed


@pytest.mark.parametrize("newer", ["auvo", "bling"])
def test_concurrent_changes_resolve_to_the_newer_one(bridge: Bridge, sims: Simulators, newer: str) -> None:
    auvo_ids, _ = initial_sync(bridge, sims)
    auvo_id = auvo_ids[1]
    bling_id = contact_of(sims, auvo_id)["id"]
    bridge.stop()  # both sides change while the integration is not looking
    older_side, newer_side = ("bling", "auvo") if newer == "auvo" else ("auvo", "bling")
    change = {"auvo": "Nome dado no Auvo", "bling": "Nome dado no Bling"}

    def edit(side: str) -> None:
        if side == "auvo":
            sims.auvo.update_customer(auvo_id, description=change["auvo"])
        else:
            sims.bling.update_contact(bling_id, nome=change["bling"])

    edit(older_side)
    time.sleep(1.2)  # both APIs stamp changes to the second
    edit(newer_side)
    bridge.start()
    wait_until(
        lambda: (
            contact_of(sims, auvo_id)["nome"] == sims.auvo.customers[auvo_id]["description"] == change[newer]
        ),
        20,
        f"both sides to hold the {newer} change",
    )
    settle(sims)
    assert contact_of(sims, auvo_id)["nome"] == change[newer]
    assert sims.auvo.customers[auvo_id]["description"] == change[newer]
    counters = bridge.app.store.counters("default")
    assert sum(v for k, v in counters.items() if k.endswith(f"conflict_{newer}_won")) >= 1, counters


def test_customers_existing_on_both_sides_are_linked_not_duplicated(bridge: Bridge, sims: Simulators) -> None:
    """Same people typed into both systems before the integration was switched on."""
    auvo = seed_auvo_customers(sims.auvo, 8, rng_seed=41)
    people = [c for c in auvo if c.get("cpfCnpj")]
    for c in people:  # the Bling copy shows the document formatted, as Bling users type it
        doc = c["cpfCnpj"]
        shown = f"{doc[:3]}.{doc[3:6]}.{doc[6:9]}-{doc[9:]}" if len(doc) == 11 else doc
        sims.bling.add_contact(nome=c["description"], numeroDocumento=shown, tipo="F", situacao="A")
    bling_before = len(sims.bling.contacts)
    bridge.start()
    wait_until(lambda: len(sims.auvo.customers) >= len(auvo) and _all_linked(bridge, auvo), 40, "links")
    settle(sims)
    creates = writes(sims)
    assert creates.get("bling POST contatos", 0) == len(auvo) - len(people)  # only those without a twin
    assert creates.get("auvo PUT customers", 0) + creates.get("auvo POST customers", 0) <= len(people)
    assert len(sims.bling.contacts) == bling_before + len(auvo) - len(people)
    assert len(sims.auvo.customers) == len(auvo)  # no Auvo duplicate of a Bling twin


def _all_linked(bridge: Bridge, auvo: list[dict[str, Any]]) -> bool:
    return all(bridge.app.store.bling_id_for("default", "customer", str(c["id"])) for c in auvo)


def test_bling_to_auvo_finds_an_existing_auvo_customer_by_email(
    amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str
) -> None:
    """Auvo cannot be searched by e-mail: the Auvo poller's index finds the twin instead."""
    existing = sims.auvo.add_customer(description="Oficina do Zé", email=["ze@oficina.com.br"], cpfCnpj="")
    twin = sims.bling.add_contact(nome="Oficina do Zé", email="ZE@oficina.com.br", tipo="F", situacao="A")
    new = sims.bling.add_contact(nome="Outra Oficina", email="outra@oficina.com.br", tipo="F", situacao="A")
    app = App(
        build_settings(
            amqp_url,
            pg_url,
            sims,
            customers={"direction": "bling_to_auvo"},
            bus={"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 8, "prefix": bus_prefix},
        )
    )
    authorize_headless(app)
    running = start(app, poll_interval=0.3)
    try:
        wait_until(lambda: len(sims.auvo.customers) == 2 and _linked(app, twin["id"]), 30, "the twin link")
        settle(sims)
    finally:
        running.stop()
        app.close()
    assert app.store.auvo_id_for("default", "customer", str(twin["id"])) == str(existing["id"])
    assert customer_of(sims, new["id"])["description"] == "Outra Oficina"
    assert len(sims.auvo.customers) == 2  # the twin was linked, only the new contato was created


def _linked(app: App, bling_id: int) -> bool:
    return app.store.auvo_id_for("default", "customer", str(bling_id)) is not None


def test_auvo_to_bling_finds_an_existing_contato_by_email_when_there_is_no_document(
    amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str
) -> None:
    twin = sims.bling.add_contact(nome="Bar do Léo", email="leo@bardoleo.com.br", tipo="F", situacao="A")
    sims.bling.add_contact(nome="Outro Léo", email="outro.leo@bardoleo.com.br", tipo="F", situacao="A")
    customer = sims.auvo.add_customer(description="Bar do Léo", email=["Leo@BarDoLeo.com.br"], cpfCnpj="")
    app = App(
        build_settings(
            amqp_url,
            pg_url,
            sims,
            bus={"retry_delays_seconds": [0.3], "max_attempts": 5, "prefix": bus_prefix},
        )
    )
    authorize_headless(app)
    running = start(app, poll_interval=0.3)
    try:
        wait_until(
            lambda: app.store.bling_id_for("default", "customer", str(customer["id"])) is not None, 30, "link"
        )
        settle(sims)
    finally:
        running.stop()
        app.close()
    assert app.store.bling_id_for("default", "customer", str(customer["id"])) == str(twin["id"])
    assert writes(sims).get("bling POST contatos", 0) == 0
    assert len(sims.bling.contacts) == 2
