"""The demo's field work: tasks in every status, of several types, with and without values, and
quotes in two stages, so the summary can show what each option of the guide let through.

The expected result is computed with the same pure rules the task poller applies
(`producers.task_selection`), and checked against what actually exists in the Bling simulator:
one pedido per matching task, one proposta per quote in the configured stage, nothing else.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from contracts.options import TaskStatus
from producers.task_selection import QuoteRules, TaskRules, why_not_quote, why_not_task
from simulators.auvo import AuvoState
from simulators.bling import BlingState
from simulators.seed import seed_bling_catalogue

QUOTE_STAGE = "Aprovado"
_PRODUCTS = (
    ("6a1e1f52-b262-410a-a409-cc25ba92d001", "FA-01", "Filtro de ar", 35.90),
    ("6a1e1f52-b262-410a-a409-cc25ba92d002", "GR-410", "Gás R410A 1kg", 120.00),
    ("6a1e1f52-b262-410a-a409-cc25ba92d003", "CP-35", "Capacitor 35uF", 42.50),
)
_SERVICES = (("5b2e1f52-705c-11eb-bf97-0aa2a285b001", "Higienização de split", 150.00),)
# The company's own Bling catalogue, which the demo's items are sold as: one found by its code (the
# Auvo code is the Bling codigo), one by externalId (the Auvo product carries the Bling id), one by
# GTIN (both carry it), and the service mapped by hand (Auvo services have no code). Auvo id ->
# (how it is found, the Bling codigo, the GTIN).
_CATALOGUE = {
    _PRODUCTS[0][0]: ("code", "FA-01", ""),
    _PRODUCTS[1][0]: ("external_id", "GR410-1KG", ""),
    _PRODUCTS[2][0]: ("gtin", "CAP-35UF", "7891234567895"),
    _SERVICES[0][0]: ("mapping", "SRV-HIG", ""),
}


@dataclass
class DemoJobs:
    task_rules: TaskRules
    quote_rules: QuoteRules
    tasks: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    # (kind, Auvo id, Bling produto id) a person maps with `auvo-bling products map`
    mappings: list[tuple[str, str, int]] = field(default_factory=list)
    catalogue_seeded: bool = False

    def expected_task_ids(self) -> set[int]:
        return {int(t["taskID"]) for t in self.tasks if why_not_task(t, self.task_rules, set()) is None}

    def expected_quote_ids(self) -> set[int]:
        return {int(q["publicId"]) for q in self.quotes if why_not_quote(q, self.quote_rules) is None}

    def settings(self) -> dict[str, Any]:
        """The settings that make the integration apply these same rules."""
        return {
            "tasks": {
                "enabled": True,
                "status": str(self.task_rules.status),
                "task_types": sorted(self.task_rules.task_types),
                "outcome": True,  # the demo's Bling user attends one pedido and invoices another
            },
            "quotes": {"enabled": True, "stage": self.quote_rules.stage},
        }

    def filtered_out(self) -> Counter[str]:
        """Why each task or quote that should not reach Bling is left out, by rule."""
        reasons: Counter[str] = Counter()
        for task in self.tasks:
            reason = why_not_task(task, self.task_rules, set())
            if reason:
                reasons[f"task {reason}"] += 1
        for quote in self.quotes:
            reason = why_not_quote(quote, self.quote_rules)
            if reason:
                reasons[f"quote {reason}"] += 1
        return reasons


def _line(rng: random.Random, valued: bool) -> dict[str, Any]:
    guid, code, name, price = rng.choice(_PRODUCTS)
    quantity = float(rng.randint(1, 3))
    unit = price if valued else 0.0
    return {
        "productId": guid,
        "code": code,
        "name": name,
        "quantity": quantity,
        "unitaryValue": unit,
        "totalValue": round(quantity * unit, 2),
        "discount": {"value": 0.0, "type": "Valor"},
    }


def _seed_catalogue(bling: BlingState) -> dict[str, int]:
    """The Bling produtos of `_CATALOGUE`, by Auvo id."""
    names = {guid: (name, price) for guid, _, name, price in _PRODUCTS}
    names.update({sid: (title, price) for sid, title, price in _SERVICES})
    ids = {}
    for auvo_id, (_, codigo, gtin) in _CATALOGUE.items():
        name, price = names[auvo_id]
        tipo = "S" if auvo_id in {s[0] for s in _SERVICES} else "P"
        [record] = seed_bling_catalogue(
            bling,
            [
                {
                    "nome": name,
                    "codigo": codigo,
                    "preco": price,
                    "tipo": tipo,
                    "gtin": gtin,
                    "tributacao": {"ncm": "84159090"},
                }
            ],
        )
        ids[auvo_id] = int(record["id"])
    return ids


def seed_demo_jobs(
    auvo: AuvoState,
    customer_ids: list[int],
    *,
    tasks: int = 24,
    quotes: int = 6,
    bling: BlingState | None = None,
) -> DemoJobs:
    """Seed task types, products, services, tasks and quotations; returns them with the rules.

    With `bling`, the Bling simulator first gets the company's catalogue the items are sold as.
    """
    rng = random.Random(7)
    types = [
        auvo.add_record("taskTypes", {"description": d})
        for d in ("Manutenção preventiva", "Instalação", "Visita")
    ]
    catalogue = _seed_catalogue(bling) if bling is not None else {}
    for guid, code, name, price in _PRODUCTS:
        record: dict[str, Any] = {
            "productId": guid,
            "code": code,
            "name": name,
            "unitaryValue": f"{price:.2f}",
        }
        how, _, gtin = _CATALOGUE[guid]
        if catalogue and how == "external_id":
            record["externalId"] = str(catalogue[guid])
        if catalogue and how == "gtin":
            record["productSpecifications"] = [{"name": "GTIN", "Specification": gtin}]
        auvo.add_record("products", record)
    for sid, title, price in _SERVICES:
        auvo.add_record("services", {"id": sid, "title": title, "price": f"{price:.2f}"})
    task_rules = TaskRules(
        enabled=True,
        status=TaskStatus.finished_auto_or_manual,
        task_types=frozenset(int(t["id"]) for t in types[:2]),  # not the plain visits
    )
    jobs = DemoJobs(task_rules, QuoteRules(enabled=True, stage=QUOTE_STAGE), catalogue_seeded=bool(catalogue))
    jobs.mappings = [
        ("service", auvo_id, bling_id)
        for auvo_id, bling_id in catalogue.items()
        if _CATALOGUE[auvo_id][0] == "mapping"
    ]
    for i in range(tasks):
        finished = i % 3 != 0  # a third still open
        valued = i % 4 != 1  # some carry no values yet
        services = (
            [
                {
                    "id": _SERVICES[0][0],
                    "name": _SERVICES[0][1],
                    "quantity": 1.0,
                    "unitaryValue": _SERVICES[0][2],
                    "totalValue": _SERVICES[0][2],
                }
            ]
            if valued and i % 5 == 0
            else []
        )
        jobs.tasks.append(
            auvo.add_task(
                rng.choice(customer_ids),
                types[i % 3]["id"],
                finished=finished,
                finishedManually=i % 2 == 0,
                days_ago=rng.randint(0, 10),
                products=[_line(rng, valued)],
                services=services,
            )
        )
    for i in range(quotes):
        guid, code, name, price = _PRODUCTS[i % len(_PRODUCTS)]
        stage = QUOTE_STAGE if i % 2 == 0 else "Em aberto"
        jobs.quotes.append(
            auvo.add_record(
                "quotations",
                {
                    "customerId": rng.choice(customer_ids),
                    "products": [{"productId": code, "amout": 1 + i % 3, "UnitaryValue": f"{price:.2f}"}],
                    "CurrentStage": {
                        "id": 3 if stage == QUOTE_STAGE else 1,
                        "description": stage,
                        "position": 3,
                    },
                },
            )
        )
    return jobs


def bling_sales_documents(bling: BlingState) -> tuple[Counter[int], Counter[int]]:
    """Pedidos per Auvo task id and propostas per Auvo quote id found in the Bling simulator."""
    with bling.lock:
        orders = [dict(r) for r in bling.records["pedidos/vendas"].values()]
        proposals = [dict(r) for r in bling.records["propostas-comerciais"].values()]
    pedidos: Counter[int] = Counter()
    for order in orders:
        numero = str(order.get("numeroLoja") or "")
        if numero.startswith("AUVO-TASK-"):
            pedidos[int(numero.removeprefix("AUVO-TASK-"))] += 1
    propostas: Counter[int] = Counter()
    for proposal in proposals:
        note = str(proposal.get("observacaoInterna") or "")
        marker = note.split("(AUVO-ORC-", 1)
        if len(marker) == 2:
            propostas[int(marker[1].split(")", 1)[0])] += 1
    return pedidos, propostas
