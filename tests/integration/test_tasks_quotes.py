"""Tasks and quotes to Bling through both simulators.

Most tests run the real pollers and handlers in process (SQLite store, HTTP to the simulators)
and hand the events from one to the other directly, so each step can be checked; the last ones run
the whole flow on the real RabbitMQ and PostgreSQL.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from consumers.base import CREATED, DUPLICATE, UNCHANGED, UPDATED
from consumers.sales.documents import CLOSED
from consumers.sales.quote_writer import TASK_OWNS
from contracts.envelope import Envelope
from infra.bus.topology import TO_BLING_ORDERS, TO_BLING_PROPOSALS
from producers.auvo_quotes import AuvoQuotePoller
from producers.auvo_tasks import AuvoTaskPoller
from producers.task_selection import CUSTOMER_GROUP, NO_VALUES, STATUS, TASK_TYPE
from tests.support import Capture, Clock, Simulators, build_settings, wait_until

pytestmark = pytest.mark.integration

FILTER_ID = "63867f52-b262-410a-a409-cc25ba92ded1"
HIGIENIZACAO_ID = "419384ad-705c-11eb-bf97-0aa2a285b66a"


@pytest.fixture
def make_app(sims: Simulators, tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        db = tmp_path / f"store-{len(apps)}.sqlite3"
        overrides.setdefault("tasks", {"enabled": True})
        app = App(build_settings("memory://", f"sqlite:///{db}", sims, **overrides))
        authorize_headless(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def product_line(quantity: float = 2.0, unit: float = 35.9, **extra: Any) -> dict[str, Any]:
    return {
        "productId": FILTER_ID,
        "code": "FA-01",
        "name": "Filtro de ar",
        "quantity": quantity,
        "unitaryValue": unit,
        "totalValue": round(quantity * unit, 2),
        "discount": {"value": 0.0, "type": "Valor"},
        **extra,
    }


def service_line(quantity: float = 1.0, unit: float = 150.0) -> dict[str, Any]:
    return {
        "id": HIGIENIZACAO_ID,
        "name": "Higienização de split",
        "quantity": quantity,
        "unitaryValue": unit,
        "totalValue": round(quantity * unit, 2),
    }


def orders(sims: Simulators) -> list[dict[str, Any]]:
    with sims.bling.lock:
        return [dict(r) for r in sims.bling.records["pedidos/vendas"].values()]


def proposals(sims: Simulators) -> list[dict[str, Any]]:
    with sims.bling.lock:
        return [dict(r) for r in sims.bling.records["propostas-comerciais"].values()]


def writes(sims: Simulators, method: str, resource: str) -> int:
    return sims.bling.writes[(method, resource)]


def pollers(app: App, publisher: Capture) -> tuple[AuvoTaskPoller | None, AuvoQuotePoller | None]:
    found = app.pollers(publisher)  # type: ignore[arg-type]
    tasks = next((p for p in found if isinstance(p, AuvoTaskPoller)), None)
    quotes = next((p for p in found if isinstance(p, AuvoQuotePoller)), None)
    return tasks, quotes


def deliver(app: App, envelopes: list[Envelope]) -> list[str]:
    handlers = app.handlers()
    queue = {TO_BLING_ORDERS.event_type: TO_BLING_ORDERS, TO_BLING_PROPOSALS.event_type: TO_BLING_PROPOSALS}
    return [handlers[queue[e.type]](e) for e in envelopes]


# --- the task flow ----------------------------------------------------------------------------------


def test_finished_task_with_valued_items_becomes_exactly_one_pedido(
    make_app: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    customer = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj="11444777000161", email=["a@b.com.br"])
    task = sims.auvo.add_task(
        customer["id"],
        finished=True,
        products=[product_line()],
        services=[service_line()],
        additionalCosts=[{"additionalCostId": "c1", "name": "Deslocamento", "unitaryValue": 25.0}],
        taskUrl="https://app.auvo.com.br/tarefa/x",
    )
    app = make_app(tasks={"enabled": True, "status": "finished_auto_or_manual"})
    publisher = Capture()
    task_poller, _ = pollers(app, publisher)
    assert task_poller is not None
    assert task_poller.poll_once() == 1
    assert deliver(app, publisher.take()) == [CREATED]

    [order] = orders(sims)
    assert order["numeroLoja"] == f"AUVO-TASK-{task['taskID']}"
    contact = sims.bling.contacts[order["contato"]["id"]]
    assert contact["codigo"] == f"AUVO-{customer['id']}" and contact["numeroDocumento"] == "11444777000161"
    items = {(i["codigo"], i["quantidade"], i["valor"]) for i in order["itens"]}
    assert items == {(f"AUVO-P-{FILTER_ID}", 2.0, 35.9), (f"AUVO-S-{HIGIENIZACAO_ID}", 1.0, 150.0)}
    assert order["outrasDespesas"] == 25.0
    assert order["total"] == round(2 * 35.9 + 150 + 25, 2)
    assert f"Tarefa Auvo nº {task['taskID']}" in order["observacoes"]
    assert "https://app.auvo.com.br/tarefa/x" in order["observacoes"]
    produtos = {p["codigo"]: p["tipo"] for p in sims.bling.records["produtos"].values()}
    assert produtos == {f"AUVO-P-{FILTER_ID}": "P", f"AUVO-S-{HIGIENIZACAO_ID}": "S"}

    # a re-poll publishes nothing new; after a producer restart the same event is dropped
    assert task_poller.poll_once() == 0
    assert deliver(app, [_last_event(app, task_poller, publisher)]) == [DUPLICATE]
    assert len(orders(sims)) == 1 and writes(sims, "POST", "pedidos/vendas") == 1


def _last_event(app: App, poller: AuvoTaskPoller, publisher: Capture) -> Envelope:
    """Re-publish what the poller would publish for the current state (a re-poll after a restart)."""
    poller.recent = type(poller.recent)()
    app.store.set_cursor(app.tenant, "auvo.tasks.dateLastUpdate", "2000-01-01T00:00:00")
    poller.poll_once()
    [event] = publisher.take()
    return event


def test_task_without_values_is_integrated_once_it_gets_them(
    make_app: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    customer = sims.auvo.add_customer("Padaria Pão Quente")
    task = sims.auvo.add_task(customer["id"], finished=True, products=[product_line(unit=0.0)])
    app = make_app()
    publisher = Capture()
    task_poller, _ = pollers(app, publisher)
    assert task_poller is not None
    assert task_poller.poll_once() == 0
    assert task_poller.filtered[NO_VALUES] == 1
    clock.tick()
    sims.auvo.update_record("tasks", task["taskID"], products=[product_line(unit=35.9)])
    assert task_poller.poll_once() == 1
    assert deliver(app, publisher.take()) == [CREATED]
    assert len(orders(sims)) == 1


def test_a_changed_task_updates_its_pedido_and_an_unchanged_one_writes_nothing(
    make_app: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    customer = sims.auvo.add_customer("Hotel Bela Vista")
    task = sims.auvo.add_task(customer["id"], finished=True, products=[product_line(quantity=1)])
    app = make_app()
    publisher = Capture()
    task_poller, _ = pollers(app, publisher)
    assert task_poller is not None
    task_poller.poll_once()
    assert deliver(app, publisher.take()) == [CREATED]

    clock.tick()
    sims.auvo.update_record(
        "tasks", task["taskID"], products=[product_line(quantity=3)], services=[service_line()]
    )
    assert task_poller.poll_once() == 1
    assert deliver(app, publisher.take()) == [UPDATED]
    [order] = orders(sims)
    assert sorted(i["quantidade"] for i in order["itens"]) == [1.0, 3.0]
    assert writes(sims, "PUT", "pedidos/vendas") == 1

    clock.tick()  # a change Bling does not see (the report text): new event, no write
    sims.auvo.update_record("tasks", task["taskID"], report="Filtro trocado")
    assert task_poller.poll_once() == 1
    assert deliver(app, publisher.take()) == [UNCHANGED]
    assert writes(sims, "PUT", "pedidos/vendas") == 1 and writes(sims, "POST", "pedidos/vendas") == 1


def test_a_pedido_bling_closed_is_left_alone(
    make_app: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    customer = sims.auvo.add_customer("Metalúrgica Forte")
    task = sims.auvo.add_task(customer["id"], finished=True, products=[product_line(quantity=1)])
    app = make_app()
    publisher = Capture()
    task_poller, _ = pollers(app, publisher)
    assert task_poller is not None
    task_poller.poll_once()
    deliver(app, publisher.take())
    [order] = orders(sims)
    sims.bling.update_record("pedidos/vendas", order["id"], situacao={"id": 9, "valor": 1})  # atendido
    clock.tick()
    sims.auvo.update_record("tasks", task["taskID"], products=[product_line(quantity=5)])
    task_poller.poll_once()
    assert deliver(app, publisher.take()) == [CLOSED]
    assert [i["quantidade"] for i in orders(sims)[0]["itens"]] == [1.0]


def test_a_crash_between_create_and_commit_never_makes_a_second_pedido(
    make_app: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    customer = sims.auvo.add_customer("Supermercado Bom Preço")
    sims.auvo.add_task(customer["id"], finished=True, products=[product_line()], services=[service_line()])
    app = make_app()
    publisher = Capture()
    task_poller, _ = pollers(app, publisher)
    assert task_poller is not None
    task_poller.poll_once()
    [event] = publisher.take()
    handler = app.handlers()[TO_BLING_ORDERS]
    handler.apply(event)  # type: ignore[attr-defined]  # wrote to Bling, then "died" before the commit
    assert len(orders(sims)) == 1

    fresh = make_app()  # another consumer, with an empty store: no id map at all
    assert deliver(fresh, [event]) == [UPDATED]
    assert len(orders(sims)) == 1
    assert writes(sims, "POST", "pedidos/vendas") == 1
    assert Counter(p["codigo"] for p in sims.bling.records["produtos"].values()).most_common(1)[0][1] == 1
    assert Counter(c["codigo"] for c in sims.bling.contacts.values()).most_common(1)[0][1] == 1


@pytest.mark.parametrize(
    ("settings", "task_fields", "published", "reason"),
    [
        ({"status": "finished_automatically"}, {"finished": True}, 1, None),
        ({"status": "finished_automatically"}, {"finished": True, "finishedManually": True}, 0, STATUS),
        ({"status": "finished_manually"}, {"finished": True, "finishedManually": True}, 1, None),
        ({"status": "finished_manually"}, {"finished": True}, 0, STATUS),
        ({"status": "not_finished"}, {"finished": False}, 1, None),
        ({"status": "not_finished"}, {"finished": True}, 0, STATUS),
        ({"status": "finished_auto_or_manual"}, {"finished": False}, 0, STATUS),
        ({"status": "all"}, {"finished": False}, 1, None),
        ({"task_types": "TYPE"}, {"taskType": "TYPE"}, 1, None),
        ({"task_types": "TYPE"}, {"taskType": "OTHER"}, 0, TASK_TYPE),
        ({"customer_group": "GROUP"}, {"customer": "member"}, 1, None),
        ({"customer_group": "GROUP"}, {"customer": "outsider"}, 0, CUSTOMER_GROUP),
    ],
)
def test_each_task_option_through_the_auvo_api(
    make_app: Callable[..., App],
    sims: Simulators,
    clock: Clock,
    settings: dict[str, Any],
    task_fields: dict[str, Any],
    published: int,
    reason: str | None,
) -> None:
    group = sims.auvo.add_record("customerGroups", {"description": "VIP"})
    wanted_type = sims.auvo.add_record("taskTypes", {"description": "Instalação"})
    other_type = sims.auvo.add_record("taskTypes", {"description": "Visita"})
    member = sims.auvo.add_customer("Condomínio Azul", groupsId=[group["id"]])
    outsider = sims.auvo.add_customer("Condomínio Verde")
    fields = dict(task_fields)
    customer = outsider if fields.pop("customer", "member") == "outsider" else member
    kind = {"TYPE": wanted_type["id"], "OTHER": other_type["id"]}[fields.pop("taskType", "OTHER")]
    sims.auvo.add_task(customer["id"], kind, products=[product_line()], **fields)
    options = {"enabled": True, **settings}
    if options.get("task_types") == "TYPE":
        options["task_types"] = [wanted_type["id"]]
    if options.get("customer_group") == "GROUP":
        options["customer_group"] = group["id"]
    app = make_app(tasks=options)
    publisher = Capture()
    task_poller, _ = pollers(app, publisher)
    assert task_poller is not None
    assert task_poller.poll_once() == published
    if reason == STATUS:
        assert not task_poller.filtered  # Auvo's own status filter already left it out
    elif reason is not None:
        assert task_poller.filtered == {reason: 1}


# --- quotes, and both flows on ----------------------------------------------------------------------


def seed_quote(
    sims: Simulators, customer_id: int, *, task_id: int = 0, stage: str = "Aprovado"
) -> dict[str, Any]:
    product = sims.auvo.add_record(
        "products", {"productId": FILTER_ID, "code": "FA-01", "name": "Filtro de ar", "unitaryValue": "35,90"}
    )
    return sims.auvo.add_record(
        "quotations",
        {
            "customerId": customer_id,
            "taskID": task_id,
            "products": [{"productId": product["code"], "amout": 2, "UnitaryValue": "35.90"}],
            "CurrentStage": {"id": 3, "description": stage, "position": 3, "isCancelled": False},
        },
    )


def test_an_approved_quote_becomes_one_proposta_comercial(
    make_app: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    customer = sims.auvo.add_customer("Transportes Rápido")
    quote = seed_quote(sims, customer["id"])
    seed_quote(sims, customer["id"], stage="Em aberto")
    app = make_app(tasks={"enabled": False}, quotes={"enabled": True, "stage": "Aprovado"})
    publisher = Capture()
    _, quote_poller = pollers(app, publisher)
    assert quote_poller is not None
    assert quote_poller.poll_once() == 1
    events = publisher.take()
    assert deliver(app, events) == [CREATED]
    assert deliver(app, events) == [DUPLICATE]
    [proposta] = proposals(sims)
    assert f"(AUVO-ORC-{quote['publicId']})" in proposta["observacaoInterna"]
    assert [(i["codigo"], i["quantidade"]) for i in proposta["itens"]] == [(f"AUVO-P-{FILTER_ID}", 2.0)]
    assert orders(sims) == []
    assert quote_poller.poll_once() == 0  # unchanged: nothing new


@pytest.mark.parametrize("first", ["quote", "task"])
def test_both_flows_on_make_one_pedido_per_job(
    make_app: Callable[..., App], sims: Simulators, clock: Clock, first: str
) -> None:
    customer = sims.auvo.add_customer("Engenharia Alfa")
    task = sims.auvo.add_task(customer["id"], finished=True, products=[product_line(quantity=3)])
    seed_quote(sims, customer["id"], task_id=task["taskID"])
    app = make_app(
        tasks={"enabled": True},
        quotes={"enabled": True, "stage": "Aprovado", "target": "pedido_de_venda"},
    )
    publisher = Capture()
    task_poller, quote_poller = pollers(app, publisher)
    assert task_poller is not None and quote_poller is not None
    task_poller.poll_once()
    [task_event] = publisher.take()
    quote_poller.poll_once()
    [quote_event] = publisher.take()

    if first == "quote":
        assert deliver(app, [quote_event, task_event]) == [CREATED, UPDATED]
    else:
        assert deliver(app, [task_event, quote_event]) == [CREATED, TASK_OWNS]
    [order] = orders(sims)
    assert order["numeroLoja"] == f"AUVO-TASK-{task['taskID']}"
    assert [i["quantidade"] for i in order["itens"]] == [3.0]  # the task's content wins
    assert writes(sims, "POST", "pedidos/vendas") == 1 and proposals(sims) == []


@pytest.mark.parametrize("quote_first", [True, False], ids=["quote-flow-first", "task-flow-first"])
def test_a_quote_pedido_made_before_its_task_existed_becomes_the_jobs_pedido(
    make_app: Callable[..., App], sims: Simulators, clock: Clock, quote_first: bool
) -> None:
    customer = sims.auvo.add_customer("Climatização Beta")
    quote = seed_quote(sims, customer["id"])
    app = make_app(
        tasks={"enabled": True},
        quotes={"enabled": True, "stage": "Aprovado", "target": "pedido_de_venda"},
    )
    publisher = Capture()
    task_poller, quote_poller = pollers(app, publisher)
    assert task_poller is not None and quote_poller is not None
    quote_poller.poll_once()
    assert deliver(app, publisher.take()) == [CREATED]
    assert orders(sims)[0]["numeroLoja"] == f"AUVO-ORC-{quote['publicId']}"

    # the quotation is turned into a task in Auvo; either flow may see that first
    clock.tick()
    task = sims.auvo.add_task(customer["id"], finished=True, products=[product_line(quantity=4)])
    sims.auvo.update_record("quotations", quote["publicId"], taskID=task["taskID"])
    quote_poller.poll_once()
    [quote_event] = publisher.take()
    task_poller.poll_once()
    [task_event] = publisher.take()
    if quote_first:
        assert deliver(app, [quote_event, task_event]) == [UPDATED, UPDATED]
    else:
        assert deliver(app, [task_event, quote_event]) == [UPDATED, TASK_OWNS]

    [order] = orders(sims)
    assert order["numeroLoja"] == f"AUVO-TASK-{task['taskID']}"
    assert [i["quantidade"] for i in order["itens"]] == [4.0]
    assert writes(sims, "POST", "pedidos/vendas") == 1


# --- on the real RabbitMQ and PostgreSQL ---------------------------------------------------------------


def test_tasks_and_quotes_on_rabbitmq_and_postgres_one_document_per_job(
    amqp_url: str, pg_url: str, bus_prefix: str, sims: Simulators
) -> None:
    customers = [sims.auvo.add_customer(f"Cliente {i}", cpfCnpj="") for i in range(4)]
    jobs = []
    for i, customer in enumerate(customers):
        task = sims.auvo.add_task(
            customer["id"], finished=True, products=[product_line(quantity=i + 1)], services=[service_line()]
        )
        seed_quote(sims, customer["id"], task_id=task["taskID"])
        jobs.append(task["taskID"])
    waiting = sims.auvo.add_task(customers[0]["id"], finished=True)  # no values yet
    lone_quote = seed_quote(sims, customers[1]["id"])  # a quotation without task
    settings = build_settings(
        amqp_url,
        pg_url,
        sims,
        bus={"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix},
        # the 1-second poll
        poll={"interval_seconds": 1.0, "max_interval_seconds": 1.0, "overlap_seconds": 5},
        tasks={"enabled": True},
        quotes={"enabled": True, "stage": "Aprovado", "target": "pedido_de_venda"},
    )
    app = App(settings)
    try:
        authorize_headless(app)
        running = start(app, worker_threads=2)
        try:
            expected = {f"AUVO-TASK-{t}" for t in jobs} | {f"AUVO-ORC-{lone_quote['publicId']}"}
            wait_until(lambda: {o["numeroLoja"] for o in orders(sims)} == expected, 30, "one pedido per job")
            time.sleep(1.0)  # then a task reaches its values: measured from there to its pedido in Bling
            sims.auvo.update_record("tasks", waiting["taskID"], products=[product_line()])
            began = time.monotonic()
            wait_until(lambda: len(orders(sims)) == len(expected) + 1, 30, "the task that got its values")
            print(f"\ntask with values -> pedido in Bling: {time.monotonic() - began:.2f} s (poll every 1 s)")
            time.sleep(1.5)  # let re-polls and the other flow's events go by
        finally:
            running.stop()
        numeros = Counter(o["numeroLoja"] for o in orders(sims))
        assert max(numeros.values()) == 1, numeros
        assert len(numeros) == len(expected) + 1
        assert Counter(p["codigo"] for p in sims.bling.records["produtos"].values()) == {
            f"AUVO-P-{FILTER_ID}": 1,
            f"AUVO-S-{HIGIENIZACAO_ID}": 1,
        }
        assert Counter(c["codigo"] for c in sims.bling.contacts.values()) == {
            f"AUVO-{c['id']}": 1 for c in customers
        }
        assert running.consumer_stats().get("dead_lettered", 0) == 0
    finally:
        app.close()
