"""`record_story`: from what a person types (a task, quotation or customer id, a CPF/CNPJ) to the
record's story, reading the store (history, id map, customer index) and, only when the store knows
nothing of a task, Auvo once (a task Auvo's own status filter keeps from the poller is never read
by it, so only a look at the task can say which rule leaves it out)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from typing import Any, Protocol

from auvo_bling.story.assemble import Link, assemble
from auvo_bling.story.model import Story, StoryStep
from contracts.customer_fields import digits
from infra.errors import IntegrationError
from infra.store import Store
from infra.store.history import SUBJECT_OF_LINK
from producers.auvo_tasks import task_facts
from producers.selection_reasons import reason_name
from producers.task_selection import TaskRules, why_not_task

# which record a bare number most likely is, when it matches several
PREFERENCE = ("auvo.task", "auvo.quotation", "auvo.customer", "bling.contato", "auvo.expense")
# id map entities whose auvo_id is the subject's id (and the linked record lives in Bling)
ENTITIES_OF = {
    "auvo.task": ("task",),
    "auvo.quotation": ("quote", "quote_order"),
    "auvo.customer": ("customer",),
    "auvo.expense": ("expense",),
}


_DOCUMENT_MARKS = frozenset(".-/ ")


class TaskReader(Protocol):
    def get_task(self, task_id: int | str) -> dict[str, Any]: ...


def document_of(query: str) -> str | None:
    """A CPF (11 digits) or CNPJ (14), formatted or not, normalised as the customer index keeps it."""
    if any(c not in _DOCUMENT_MARKS and not c.isdigit() for c in query):
        return None
    found = digits(query)
    return found if len(found) in (11, 14) else None


def record_story(
    store: Store,
    tenant: str,
    query: str,
    *,
    subject: str | None = None,
    auvo: TaskReader | None = None,
    task_rules: TaskRules | None = None,
    group_members: Callable[[], Collection[int]] | None = None,
    retention_days: float | None = None,
) -> Story:
    """The story of the record `query` names. `subject` picks one kind when a number is several;
    `auvo` and `task_rules`: look the task up in Auvo when the store has nothing about it."""
    query = query.strip()
    candidates = _candidates(store, tenant, query)
    if subject is not None:
        candidates = [c for c in candidates if c[0] == subject] or [(subject, query)]
    if not candidates:
        checked = _check_task(auvo, task_rules, group_members, query)
        kind = "auvo.task" if checked is not None else subject
        return assemble(query, kind, query, [], checked=checked, retention_days=retention_days)
    chosen, *others = sorted(
        candidates, key=lambda c: (PREFERENCE.index(c[0]) if c[0] in PREFERENCE else 99, c)
    )
    chosen_subject, entity_id = chosen
    rows = store.history_of(tenant, chosen_subject, entity_id)
    links = _links(store, tenant, chosen_subject, entity_id)
    checked = None
    if not rows and not links and chosen_subject == "auvo.task":  # `--subject auvo.task` of an unseen task
        checked = _check_task(auvo, task_rules, group_members, entity_id)
    return assemble(
        query,
        chosen_subject,
        entity_id,
        rows,
        links,
        checked=checked,
        others=others,
        retention_days=retention_days,
    )


def _candidates(store: Store, tenant: str, query: str) -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    document = document_of(query)
    if document:
        found |= {("auvo.customer", i) for i in store.indexed_customers(tenant, "auvo", "document", document)}
        if found:
            return sorted(found)
    if not query:
        return []
    found |= set(store.history_subjects(tenant, [query]))
    for entity, subject in SUBJECT_OF_LINK.items():
        if store.bling_id_for(tenant, entity, query) is not None:
            found.add((subject, query))
        auvo_id = store.auvo_id_for(tenant, entity, query)  # a Bling id: the Auvo record it came from
        if auvo_id is not None:
            found.add(("bling.contato", query) if entity == "customer" else (subject, auvo_id))
    return sorted(found)


def _links(store: Store, tenant: str, subject: str, entity_id: str) -> list[Link]:
    if subject == "bling.contato":
        auvo_id = store.auvo_id_for(tenant, "customer", entity_id)
        return [] if auvo_id is None else [Link("customer", "auvo", auvo_id)]
    links = []
    for entity in ENTITIES_OF.get(subject, ()):
        bling_id = store.bling_id_for(tenant, entity, entity_id)
        if bling_id is not None:
            links.append(Link(entity, "bling", bling_id))
    return links


def _check_task(
    auvo: TaskReader | None,
    rules: TaskRules | None,
    group_members: Callable[[], Collection[int]] | None,
    query: str,
) -> StoryStep | None:
    if auvo is None or rules is None or not query.isdigit():
        return None
    try:
        task = auvo.get_task(query)
    except IntegrationError:  # not a task (404), or Auvo away: the story says "not seen"
        return None
    if not task:
        return None
    reason = why_not_task(task, dataclasses.replace(rules, customer_group=None))
    if reason is None and rules.customer_group is not None:
        reason = why_not_task(task, rules, group_members() if group_members else None)
    facts = task_facts(task)
    if reason is None:
        pt = "Lida agora no Auvo: passa em todas as regras; será integrada no próximo ciclo de leitura"
        en = "Read in Auvo just now: passes every rule; it is integrated on the next poll"
    else:
        pt = f"Lida agora no Auvo (o poller não a registrou): a regra '{reason_name(reason)}' a deixa de fora"
        rule = reason_name(reason, "en")
        en = f"Read in Auvo just now (the poller never recorded it): the rule '{rule}' leaves it out"
    return StoryStep(None, "checked", pt, en, {"code": reason, **facts} if reason else facts)
