"""What the chaos scenarios share: a seeded world across every flow, its verification, the figures.

A *world* is what the two simulators hold before a run: Auvo customers and Bling contatos (customers
both ways), finished Auvo tasks with valued products and services (-> pedidos de venda), approved
Auvo quotations (-> propostas comerciais) plus some in another stage (never integrated), and a few
tasks without a customer, which are meant to fail permanently (ContractViolation -> the DLQ).

`verify` reads both simulators after a run and counts, for every source entity, its counterparts
on the other side: `lost` (none), `duplicates` (more than one, of any kind of record) and `wrong`
(one, but with other data than its source: the customer fingerprints of `customer_mapping`, the
pedido's / proposta's contato and items computed from the source with `order_mapping`).
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
from kombu import Connection

from consumers.customers.mapping import auvo_marker, fields_from_bling
from consumers.sales.mapping import product_code, quote_marker, task_marker
from contracts.customer_fields import fields_from_auvo
from contracts.events import AuvoCustomer, BlingContact
from infra.bus.nodes import broker_urls
from infra.bus.topology import Topology
from simulators.seed import seed_auvo_customers, seed_bling_contacts
from tests.support import Simulators, pika_parameters

STAGE = "Aprovado"


@dataclass
class World:
    auvo_customers: list[dict[str, Any]]
    bling_contacts: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    quotes: list[dict[str, Any]]
    other_stage_quotes: list[dict[str, Any]]
    invalid_tasks: list[dict[str, Any]]
    products: dict[str, str] = field(default_factory=dict)  # guid -> name
    services: dict[str, str] = field(default_factory=dict)

    @property
    def entities(self) -> int:
        """Source entities that must reach the other side (the invalid ones are not counted)."""
        return len(self.auvo_customers) + len(self.bling_contacts) + len(self.tasks) + len(self.quotes)

    @property
    def codes(self) -> set[str]:
        return {product_code("product", g) for g in self.products} | {
            product_code("service", g) for g in self.services
        }

    def merge(self, other: World) -> World:
        """This world and a later wave of it (seeded mid-run)."""
        return World(
            self.auvo_customers + other.auvo_customers,
            self.bling_contacts + other.bling_contacts,
            self.tasks + other.tasks,
            self.quotes + other.quotes,
            self.other_stage_quotes + other.other_stage_quotes,
            self.invalid_tasks + other.invalid_tasks,
            {**self.products, **other.products},
            {**self.services, **other.services},
        )

    def describe(self) -> str:
        return (
            f"{len(self.auvo_customers)} Auvo customers, {len(self.bling_contacts)} Bling contatos, "
            f"{len(self.tasks)} tasks, {len(self.quotes)} quotes (+{len(self.other_stage_quotes)} in "
            f"another stage), {len(self.invalid_tasks)} invalid tasks, "
            f"{len(self.products)}+{len(self.services)} products/services"
        )


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seed_world(
    sims: Simulators,
    *,
    customers: int,
    contacts: int,
    tasks: int,
    quotes: int,
    invalid_tasks: int = 2,
    rng_seed: int = 0,
) -> World:
    rng = random.Random(rng_seed)
    auvo_customers = seed_auvo_customers(sims.auvo, customers, rng_seed=rng_seed * 10 + 1)
    bling_contacts = seed_bling_contacts(sims.bling, contacts, rng_seed=rng_seed * 10 + 2)
    products = {
        _guid(rng): f"Peça {i} - {name}" for i, name in enumerate(("filtro", "gás", "capacitor", "placa"))
    }
    services = {_guid(rng): f"Serviço {i} - {name}" for i, name in enumerate(("preventiva", "higienização"))}
    for i, (guid, name) in enumerate(products.items()):
        sims.auvo.add_record(
            "products", {"productId": guid, "code": f"CH-{i}", "name": name, "unitaryValue": "35,90"}
        )
    kind = sims.auvo.add_record("taskTypes", {"description": "Manutenção"})

    def lines() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        chosen = rng.sample(sorted(products), rng.randint(1, 2))
        prods = []
        for guid in chosen:
            quantity, unit = float(rng.randint(1, 4)), round(rng.uniform(10, 300), 2)
            prods.append(
                {
                    "productId": guid,
                    "name": products[guid],
                    "quantity": quantity,
                    "unitaryValue": unit,
                    "totalValue": round(quantity * unit, 2),
                }
            )
        servs = []
        if rng.random() < 0.6:
            guid = rng.choice(sorted(services))
            unit = round(rng.uniform(80, 400), 2)
            servs.append(
                {
                    "id": guid,
                    "name": services[guid],
                    "quantity": 1.0,
                    "unitaryValue": unit,
                    "totalValue": unit,
                }
            )
        return prods, servs

    owners = [c["id"] for c in auvo_customers]
    seeded_tasks = []
    for _ in range(tasks):
        prods, servs = lines()
        seeded_tasks.append(
            sims.auvo.add_task(
                rng.choice(owners),
                kind["id"],
                finished=True,
                products=prods,
                services=servs,
                days_ago=rng.randint(0, 20),
            )
        )
    invalid = []
    for _ in range(invalid_tasks):
        prods, servs = lines()
        invalid.append(sims.auvo.add_task(0, kind["id"], finished=True, products=prods, services=servs))

    def quote(stage: str) -> dict[str, Any]:
        items = [
            {"productId": guid, "amout": rng.randint(1, 5), "UnitaryValue": f"{rng.uniform(10, 300):.2f}"}
            for guid in rng.sample(sorted(products), rng.randint(1, 3))
        ]
        return sims.auvo.add_record(
            "quotations",
            {
                "customerId": rng.choice(owners),
                "taskID": 0,
                "products": items,
                "CurrentStage": {"id": 3, "description": stage, "position": 3, "isCancelled": False},
            },
        )

    seeded_quotes = [quote(STAGE) for _ in range(quotes)]
    other = [quote("Em aberto") for _ in range(max(1, quotes // 10))]
    return World(
        auvo_customers, bling_contacts, seeded_tasks, seeded_quotes, other, invalid, products, services
    )


# --- verification --------------------------------------------------------------------------------


@dataclass
class Tally:
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicates or self.wrong or self.extra)

    def summary(self) -> str:
        def head(items: list[str]) -> str:
            return f"{len(items)}" + (f" {items[:5]}" if items else "")

        return (
            f"lost={head(self.lost)} duplicates={head(self.duplicates)} wrong={head(self.wrong)} "
            f"extra={head(self.extra)}"
        )


def _items(record: dict[str, Any]) -> Counter[tuple[str, float, float]]:
    return Counter(
        (str(i.get("codigo")), float(i.get("quantidade") or 0), round(float(i.get("valor") or 0), 2))
        for i in record.get("itens") or []
    )


def _task_items(task: dict[str, Any]) -> Counter[tuple[str, float, float]]:
    out: Counter[tuple[str, float, float]] = Counter()
    for p in task.get("products") or []:
        out[(product_code("product", p["productId"]), float(p["quantity"]), round(p["unitaryValue"], 2))] += 1
    for s in task.get("services") or []:
        out[(product_code("service", s["id"]), float(s["quantity"]), round(s["unitaryValue"], 2))] += 1
    return out


def _quote_items(quote: dict[str, Any]) -> Counter[tuple[str, float, float]]:
    return Counter(
        (product_code("product", p["productId"]), float(p["amout"]), round(float(p["UnitaryValue"]), 2))
        for p in quote["products"]
    )


def snapshot(sims: Simulators) -> dict[str, Any]:
    """Copies of what both simulators hold now (taken under their locks)."""
    with sims.bling.lock:
        bling = {
            "contatos": [dict(c) for c in sims.bling.contacts.values()],
            "pedidos": [dict(r) for r in sims.bling.records["pedidos/vendas"].values()],
            "propostas": [dict(r) for r in sims.bling.records["propostas-comerciais"].values()],
            "produtos": [dict(r) for r in sims.bling.records["produtos"].values()],
        }
    with sims.auvo.lock:
        bling["customers"] = [dict(c) for c in sims.auvo.customers.values()]
    return bling


def verify(sims: Simulators, world: World) -> Tally:
    """Every source entity exactly once on the other side, with its data; nothing else created."""
    now = snapshot(sims)
    tally = Tally()
    by_code: dict[str, list[dict[str, Any]]] = {}
    for contact in now["contatos"]:
        by_code.setdefault(str(contact.get("codigo") or ""), []).append(contact)
    by_external: dict[str, list[dict[str, Any]]] = {}
    for customer in now["customers"]:
        by_external.setdefault(str(customer.get("externalId") or ""), []).append(customer)

    contato_of: dict[int, int] = {}
    for customer in world.auvo_customers:
        found = by_code.get(auvo_marker(customer["id"]), [])
        what = f"auvo customer {customer['id']}"
        if not found:
            tally.lost.append(what)
            continue
        if len(found) > 1:
            tally.duplicates.append(what)
        contato_of[customer["id"]] = found[0]["id"]
        want = fields_from_auvo(AuvoCustomer.model_validate(customer)).fingerprint()
        if fields_from_bling(BlingContact.model_validate(found[0])).fingerprint() != want:
            tally.wrong.append(what)
    for contact in world.bling_contacts:
        found = by_external.get(str(contact["id"]), [])
        what = f"bling contato {contact['id']}"
        if not found:
            tally.lost.append(what)
            continue
        if len(found) > 1:
            tally.duplicates.append(what)
        want = fields_from_bling(BlingContact.model_validate(contact)).fingerprint()
        if fields_from_auvo(AuvoCustomer.model_validate(found[0])).fingerprint() != want:
            tally.wrong.append(what)
    expected_size = len(world.auvo_customers) + len(world.bling_contacts)
    if len(now["contatos"]) > expected_size:
        tally.extra.append(f"{len(now['contatos']) - expected_size} contatos")
    if len(now["customers"]) > expected_size:
        tally.extra.append(f"{len(now['customers']) - expected_size} Auvo customers")

    orders: dict[str, list[dict[str, Any]]] = {}
    for order in now["pedidos"]:
        orders.setdefault(str(order.get("numeroLoja") or ""), []).append(order)
    for task in world.tasks:
        found = orders.get(task_marker(task["taskID"]), [])
        what = f"task {task['taskID']}"
        if not found:
            tally.lost.append(what)
            continue
        if len(found) > 1:
            tally.duplicates.append(what)
        order = found[0]
        if order["contato"]["id"] != contato_of.get(task["customerId"]) or _items(order) != _task_items(task):
            tally.wrong.append(what)
    if len(now["pedidos"]) > len(world.tasks):
        tally.extra.append(f"{len(now['pedidos']) - len(world.tasks)} pedidos")

    for quote in world.quotes:
        marker = f"({quote_marker(quote['publicId'])})"
        found = [p for p in now["propostas"] if marker in str(p.get("observacaoInterna") or "")]
        what = f"quote {quote['publicId']}"
        if not found:
            tally.lost.append(what)
            continue
        if len(found) > 1:
            tally.duplicates.append(what)
        proposal = found[0]
        if proposal["contato"]["id"] != contato_of.get(quote["customerId"]) or _items(
            proposal
        ) != _quote_items(quote):
            tally.wrong.append(what)
    if len(now["propostas"]) > len(world.quotes):
        tally.extra.append(f"{len(now['propostas']) - len(world.quotes)} propostas")

    codes = Counter(str(p.get("codigo")) for p in now["produtos"])
    for code in world.codes:
        if codes[code] == 0:
            tally.lost.append(f"produto {code}")
        elif codes[code] > 1:
            tally.duplicates.append(f"produto {code}")
    if set(codes) - world.codes:
        tally.extra.append(f"produtos {sorted(set(codes) - world.codes)}")
    return tally


def missing(sims: Simulators, world: World, *, but: tuple[str, ...] = ()) -> int:
    """How many source entities have no counterpart yet (cheap enough to poll); `but` leaves out
    the kinds named (the prefixes of `Tally.lost`: "auvo customer", "bling contato", "task", ...)."""
    return sum(1 for what in verify(sims, world).lost if not (but and what.startswith(but)))


def write_count(sims: Simulators) -> int:
    with sims.bling.lock:
        bling = sum(sims.bling.writes.values())
    with sims.auvo.lock:
        return bling + sum(sims.auvo.writes.values())


# --- the broker ------------------------------------------------------------------------------------


def queue_depths(amqp_url: str, topology: Topology) -> dict[str, int]:
    """Ready messages per queue (work, delay and dead-letter queues)."""
    out: dict[str, int] = {}
    conn = Connection(amqp_url, connect_timeout=5)
    try:
        channel = conn.channel()
        for queue in topology.all_queues():
            try:
                out[queue.name] = channel.queue_declare(queue.name, passive=True).message_count
            except Exception:
                out[queue.name] = -1  # not there (yet): counts as not drained
                channel = conn.channel()
    finally:
        conn.release()
    return out


def drained(amqp_url: str, topology: Topology) -> bool:
    depths = queue_depths(amqp_url, topology)
    return all(n == 0 for name, n in depths.items() if name != topology.dlq.name)


@dataclass
class DeadLetter:
    entity_id: str
    event_type: str
    error_class: str
    consumer: str


def read_dlq(amqp_url: str, topology: Topology) -> list[DeadLetter]:
    """Take every message off the DLQ (the test's own, prefixed queue) with its diagnosis."""
    import json

    out = []
    # every node of a cluster's failover list (`;`), tried in turn
    with pika.BlockingConnection([pika_parameters(url) for url in broker_urls(amqp_url)]) as conn:
        channel = conn.channel()
        while True:
            method, props, body = channel.basic_get(topology.dlq.name, auto_ack=True)
            if method is None:
                break
            headers = props.headers or {}
            try:
                envelope = json.loads(body)
            except ValueError:
                envelope = {}
            out.append(
                DeadLetter(
                    str(envelope.get("entity_id")),
                    str(envelope.get("type")),
                    str(headers.get("x-error-class")),
                    str(headers.get("x-consumer")),
                )
            )
    return out


# --- waiting and reporting -------------------------------------------------------------------------


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.25,
    explain: Callable[[], str] | None = None,
) -> float:
    """Seconds it took; raises with `what` (and `explain()`) if it never happened."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if condition():
            return time.monotonic() - began
        time.sleep(interval)
    detail = f": {explain()}" if explain is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")


def wait_synced(
    sims: Simulators,
    world: World,
    timeout: float,
    what: str,
    *,
    fraction: float = 1.0,
    but: tuple[str, ...] = (),
) -> float:
    """Wait until `fraction` of the world (all of it but the kinds in `but`) is on the other side."""

    def done() -> bool:
        if fraction < 1.0:
            return 1 - missing(sims, world) / world.entities >= fraction
        return missing(sims, world, but=but) == 0

    return wait_until(done, timeout, what, explain=lambda: verify(sims, world).summary())


def settle(sims: Simulators, world: World, amqp_url: str, topology: Topology, timeout: float) -> float:
    """Wait until nothing is missing, the queues are drained and no write happened for a while."""
    began = time.monotonic()
    last = {"writes": -1, "since": time.monotonic()}

    def quiet() -> bool:
        if missing(sims, world) or not drained(amqp_url, topology):
            last["writes"] = -1
            return False
        writes = write_count(sims)
        if writes != last["writes"]:
            last.update(writes=writes, since=time.monotonic())
            return False
        return time.monotonic() - last["since"] >= 1.5

    try:
        wait_until(quiet, timeout, "every entity on the other side and the queues drained", interval=0.5)
    except AssertionError as exc:
        tally = verify(sims, world)
        raise AssertionError(f"{exc}: {tally.summary()}; queues {queue_depths(amqp_url, topology)}") from None
    return time.monotonic() - began - 1.5


REPORTED: list[str] = []  # shown at the end of the run (tests/chaos/conftest.py), so CI's log has them


def report(name: str, world: World, figures: dict[str, Any], tally: Tally) -> str:
    line = (
        f"CHAOS {name}: entities={world.entities} "
        + " ".join(f"{k}={v}" for k, v in figures.items())
        + f" duplicates={len(tally.duplicates)} lost={len(tally.lost)} wrong={len(tally.wrong)}"
    )
    print("\n" + line)
    REPORTED.append(line)
    return line
