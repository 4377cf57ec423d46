"""One matching rule on every live path: unique links, ambiguous is held (never created), none creates.

Through both simulators over HTTP, SQLite and events taken from the real pollers (no broker: the
runner's part — a PermanentError goes to the DLQ with its diagnosis — is tested elsewhere). Each
path that can look for a counterpart is here: the contatos consumer, the Auvo customers consumer
and the contato a pedido de venda needs on demand. The backfill's pairing, built on the same
`match_key`, is tested by table in tests/unit/test_customer_matching.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from consumers.base import CREATED, UPDATED
from contracts.envelope import Envelope
from infra.bus.topology import TO_AUVO_CUSTOMERS, TO_BLING_CONTACTS, TO_BLING_ORDERS, WorkQueue
from infra.errors import AmbiguousMatch
from tests.support import Capture, Simulators, build_settings

CNPJ = "11444777000161"
OTHER_CPF = "52998224725"



@pytest.fixture
def make_app(sims: Simulators, tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(direction: str, **overrides: Any) -> App:
        db = tmp_path / f"store-{len(apps)}.sqlite3"
        settings = build_settings(
            "memory://", f"sqlite:///{db}", sims, customers={"direction": direction}, **overrides
        )
        app = App(settings)
        authorize_headless(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def poll(app: App, queue: WorkQueue) -> list[Envelope]:
    """One pass of every poller (which also builds the Auvo customer index); the events for `queue`."""
    capture = Capture()
    for poller in app.pollers(capture):  # type: ignore[arg-type]
        poller.poll_once()
    return [e for e in capture.published if e.type == queue.event_type]


def bling_contact(sims: Simulators, name: str, **fields: Any) -> str:
    body = {"nome": name, "situacao": "A", "tipo": "J", **fields}
    return str(sims.bling.add_contact(**body)["id"])


def contact_creates(sims: Simulators) -> int:
    return sims.bling.writes[("POST", "contatos")]


def auvo_customer_writes(sims: Simulators) -> int:
    return sum(n for (_, resource), n in sims.auvo.writes.items() if resource == "customers")


# --- Auvo customer -> Bling contato ---------------------------------------------------------------


def test_two_contatos_with_the_customers_cnpj_hold_the_event_and_create_nothing(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    customer = sims.auvo.add_customer("Refrigeração Polar Ltda", cpfCnpj=CNPJ)
    first = bling_contact(sims, "Refrigeração Polar", numeroDocumento=CNPJ)
    second = bling_contact(sims, "Polar Refrigeração (filial)", numeroDocumento=CNPJ)
    app = make_app("auvo_to_bling")
    [event] = [e for e in poll(app, TO_BLING_CONTACTS) if e.entity_id == str(customer["id"])]

    with pytest.raises(AmbiguousMatch) as caught:
        app.handlers()[TO_BLING_CONTACTS](event)

    assert first in caught.value.message and second in caught.value.message
    assert CNPJ not in caught.value.message  # ids only: documents are personal data
    assert contact_creates(sims) == 0
    assert app.store.bling_id_for(app.tenant, "customer", str(customer["id"])) is None

    # a person merges the duplicate in Bling; the replayed event links the survivor, creates nothing
    sims.bling.delete_contact(int(second))
    assert app.handlers()[TO_BLING_CONTACTS](event) == UPDATED
    assert app.store.bling_id_for(app.tenant, "customer", str(customer["id"])) == first
    assert contact_creates(sims) == 0


def test_two_auvo_customers_with_one_contatos_cnpj_are_held_too(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    a = sims.auvo.add_customer("Padaria Central", cpfCnpj=CNPJ)
    b = sims.auvo.add_customer("Padaria Central (loja 2)", cpfCnpj=CNPJ)
    contato = bling_contact(sims, "Padaria Central", numeroDocumento=CNPJ)
    app = make_app("auvo_to_bling")
    events = poll(app, TO_BLING_CONTACTS)

    for event in events:
        with pytest.raises(AmbiguousMatch) as caught:
            app.handlers()[TO_BLING_CONTACTS](event)
        assert {str(a["id"]), str(b["id"]), contato} <= set(
            caught.value.message.replace("[", " ").replace("]", " ").replace(",", " ").split()
        )
    assert len(events) == 2 and contact_creates(sims) == 0


def test_two_contatos_with_the_customers_e_mail_hold_the_event(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    customer = sims.auvo.add_customer("Ana Souza", email=["ana@example.com.br"])
    bling_contact(sims, "Ana Souza", tipo="F", email="ana@example.com.br")
    bling_contact(sims, "Ana S.", tipo="F", email="ana@example.com.br")
    app = make_app("auvo_to_bling")
    [event] = [e for e in poll(app, TO_BLING_CONTACTS) if e.entity_id == str(customer["id"])]

    with pytest.raises(AmbiguousMatch, match="the same e-mail"):
        app.handlers()[TO_BLING_CONTACTS](event)
    assert contact_creates(sims) == 0


def test_a_customer_with_a_cnpj_links_a_document_less_contato_with_its_e_mail(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    """As the backfill's pairing does: the e-mail rule follows a document that matched nothing."""
    customer = sims.auvo.add_customer("Oficina Boa Vista", cpfCnpj=CNPJ, email=["oficina@example.com.br"])
    contato = bling_contact(sims, "Oficina Boa Vista", email="oficina@example.com.br")
    bling_contact(sims, "Outra Oficina", numeroDocumento=OTHER_CPF, tipo="F", email="oficina@example.com.br")
    app = make_app("auvo_to_bling")
    [event] = [e for e in poll(app, TO_BLING_CONTACTS) if e.entity_id == str(customer["id"])]

    assert app.handlers()[TO_BLING_CONTACTS](event) == UPDATED  # the other has a contradicting CPF
    assert app.store.bling_id_for(app.tenant, "customer", str(customer["id"])) == contato
    assert contact_creates(sims) == 0


def test_no_candidate_creates_the_contato(make_app: Callable[..., App], sims: Simulators) -> None:
    customer = sims.auvo.add_customer("Cliente Novo", cpfCnpj=CNPJ, email=["novo@example.com.br"])
    bling_contact(sims, "Alguém", numeroDocumento=OTHER_CPF, tipo="F", email="novo@example.com.br")
    app = make_app("auvo_to_bling")
    [event] = [e for e in poll(app, TO_BLING_CONTACTS) if e.entity_id == str(customer["id"])]

    assert app.handlers()[TO_BLING_CONTACTS](event) == CREATED
    assert contact_creates(sims) == 1


# --- Bling contato -> Auvo customer ---------------------------------------------------------------


def test_two_auvo_customers_with_the_contatos_cnpj_hold_the_event_and_write_nothing(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    a = sims.auvo.add_customer("Hotel Mar Azul", cpfCnpj=CNPJ)
    b = sims.auvo.add_customer("Hotel Mar Azul - anexo", cpfCnpj=CNPJ)
    contato = bling_contact(sims, "Hotel Mar Azul", numeroDocumento=CNPJ)
    app = make_app("bling_to_auvo")
    [event] = [e for e in poll(app, TO_AUVO_CUSTOMERS) if e.entity_id == contato]
    before = auvo_customer_writes(sims)

    with pytest.raises(AmbiguousMatch) as caught:
        app.handlers()[TO_AUVO_CUSTOMERS](event)

    assert str(a["id"]) in caught.value.message and str(b["id"]) in caught.value.message
    assert auvo_customer_writes(sims) == before
    assert len(sims.auvo.customers) == 2


def test_an_auvo_customer_sharing_the_e_mail_under_another_cpf_is_not_the_contato(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    other = sims.auvo.add_customer("Carlos Lima", cpfCnpj=OTHER_CPF, email=["familia@example.com.br"])
    contato = bling_contact(
        sims, "Marta Lima", tipo="F", numeroDocumento="39053344705", email="familia@example.com.br"
    )
    app = make_app("bling_to_auvo")
    [event] = [e for e in poll(app, TO_AUVO_CUSTOMERS) if e.entity_id == contato]

    assert app.handlers()[TO_AUVO_CUSTOMERS](event) == CREATED
    assert len(sims.auvo.customers) == 2
    assert sims.auvo.customers[other["id"]]["cpfCnpj"] == OTHER_CPF  # never overwritten with Marta's


# --- the contato a pedido de venda needs ----------------------------------------------------------


def test_a_task_whose_customer_matches_two_contatos_is_held_without_a_contato_or_a_pedido(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    customer = sims.auvo.add_customer("Supermercado Estrela", cpfCnpj=CNPJ)
    bling_contact(sims, "Supermercado Estrela", numeroDocumento=CNPJ)
    bling_contact(sims, "Supermercado Estrela Matriz", numeroDocumento=CNPJ)
    line = {"productId": "7d3c56a2-1b0e-4c1f-9a55-0c2f4e8b9d11", "name": "Filtro de ar", "quantity": 2.0,
            "unitaryValue": 35.9, "totalValue": 71.8}
    sims.auvo.add_task(customer["id"], finished=True, products=[line])
    app = make_app("bling_to_auvo", tasks={"enabled": True})  # no customer flow to Bling at all
    [event] = poll(app, TO_BLING_ORDERS)

    with pytest.raises(AmbiguousMatch):
        app.handlers()[TO_BLING_ORDERS](event)
    assert contact_creates(sims) == 0
    assert sims.bling.writes[("POST", "pedidos/vendas")] == 0
