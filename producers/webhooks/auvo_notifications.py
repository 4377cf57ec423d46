"""Auvo's notifier -> the very events the Auvo pollers publish.

Auvo posts `{"result": {"EntityType": "Cliente"|"Tarefas"|"Usuarios", "Action": "Inclusao"|
"Alteracao"|"Exclusao", "EntityId", "UserAdminId", "WebhookId", "Date", "Entities": [...]}}`
(blueprint, "Group Webhooks"; the entities have "the same structure as when retrieving them").

The event must be the one the poller would publish for the same change (same constructor, same
`event_id`), so a change seen by both is handled once. The event's identity covers the record's
snapshot (a task's id hashes its typed fields), so an entity that lacks any field the event model
reads is not trusted as the snapshot: the current record is read with the API client instead,
exactly as the poller would read it. A task then goes through the poller's own selection
(`producers.auvo_tasks.task_event`), never a copy of it.

Deletions (`Exclusao`) and users publish nothing: the pollers cannot see deletions either, and a
customer or task deleted in Auvo leaves its Bling contato or pedido alone (README: policies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from pydantic import BaseModel, ValidationError

from contracts.envelope import Envelope
from contracts.events import AuvoCustomer, AuvoTask, auvo_customer_changed
from infra.errors import NotFound
from producers.auvo_tasks import task_event, task_facts
from producers.decisions import DecisionLog, HistorySink
from producers.task_selection import TaskRules
from producers.webhooks.verification import NotificationRejected

log = structlog.get_logger("webhooks.auvo")

CUSTOMER_TYPES = frozenset({"cliente", "clientes", "customer", "customers"})
TASK_TYPES = frozenset({"tarefa", "tarefas", "task", "tasks"})
DELETION = "exclusao"

# Auvo's ids are integers; 18 digits stays within a signed 64-bit one
MAX_ID_DIGITS = 18

# stream names, shared with the pollers' names so `status` lines them up
CUSTOMERS_STREAM = "auvo.customers"
TASKS_STREAM = "auvo.tasks"


class AuvoReads(Protocol):
    def get_customer(self, customer_id: int | str) -> dict[str, Any]: ...
    def get_task(self, task_id: int | str) -> dict[str, Any]: ...
    def iter_group_clients(self, group_id: int | str) -> Iterator[dict[str, Any]]: ...


@dataclass(frozen=True)
class AuvoNotification:
    """The parts of one notifier body we act on."""

    entity_type: str
    action: str
    entity_id: str
    date: Any
    entities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stream(self) -> str | None:
        kind = self.entity_type.lower()
        if kind in CUSTOMER_TYPES:
            return CUSTOMERS_STREAM
        if kind in TASK_TYPES:
            return TASKS_STREAM
        return None


def parse_auvo_notification(body: dict[str, Any]) -> AuvoNotification:
    """Read the notifier's shape tolerantly (key case, a missing `result` wrapper); 400 if unusable."""
    result = body.get("result", body)
    if not isinstance(result, dict):
        raise NotificationRejected(400, "Auvo notification has no result object")
    fields = {str(k).lower(): v for k, v in result.items()}
    entity_type, action = fields.get("entitytype"), fields.get("action")
    if not isinstance(entity_type, str) or not isinstance(action, str):
        raise NotificationRejected(400, "Auvo notification lacks EntityType or Action")
    entities = fields.get("entities") or []
    if not isinstance(entities, list):
        entities = [entities]
    return AuvoNotification(
        entity_type=entity_type,
        action=action,
        entity_id=str(record_id_of(fields.get("entityid")) or ""),
        date=fields.get("date"),
        entities=[e for e in entities if isinstance(e, dict)],
    )


def record_id_of(value: Any) -> int | None:
    """An Auvo id as the path of a read takes it (a positive integer), None when absent; 400 otherwise.

    The id goes into an API path (`/customers/{id}`): anything else would be read as another path,
    or answered 400 by Auvo, which the receiver would turn into a 503 that Auvo resends forever.
    """
    if value is None or value == "":
        return None
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS and int(text) > 0:
        return int(text)
    raise NotificationRejected(400, "Auvo notification's entity id is not an Auvo id (a positive integer)")


def _complete(record: dict[str, Any], model: type[BaseModel]) -> bool:
    """Does the notified entity carry every field the event's model reads, each readable (so it is
    the snapshot)? One of another type is no snapshot either: the record is read again instead."""
    if not set(model.model_fields) <= set(record):
        return False
    try:
        model.model_validate(record)
    except ValidationError:
        return False
    return True


@dataclass
class AuvoEvents:
    """Turns one notification into the pollers' events; the receiver publishes them."""

    auvo: AuvoReads
    task_rules: TaskRules
    customers_enabled: bool
    tenant: str = "default"
    # counts of what notifications turned into, for logs and tests
    outcomes: dict[str, int] = field(default_factory=dict)
    # where a task's left-out decision goes for its story (its published events are told by the
    # consumer that handles them: noting them here, before the receiver publishes, could be untrue)
    history: HistorySink | None = None

    def __post_init__(self) -> None:
        self.decisions = DecisionLog(self.history, self.tenant, "auvo.task")

    def events(self, notification: AuvoNotification) -> list[Envelope]:
        """The events, or 400 when even the record read again from Auvo does not fit its model (a
        shape Auvo changed: resending the notification cannot help, and the poller meets it too)."""
        try:
            return self._events(notification)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(record)"
            raise NotificationRejected(
                400, f"Auvo's {notification.entity_type[:20]} record does not fit at {where}: {first['msg']}"
            ) from None

    def _events(self, notification: AuvoNotification) -> list[Envelope]:
        stream = notification.stream
        if stream is None:
            return self._skip("ignored_entity_type")
        if notification.action.lower() == DELETION:
            return self._skip("ignored_deletion")
        if stream == CUSTOMERS_STREAM:
            if not self.customers_enabled:
                return self._skip("customers_not_synced")
            return [auvo_customer_changed(r, tenant=self.tenant) for r in self._records(notification, stream)]
        if not self.task_rules.enabled:
            return self._skip("tasks_disabled")
        members: list[set[int]] = []

        def group_members() -> set[int]:
            if not members:
                group = self.task_rules.customer_group
                members.append({int(c["id"]) for c in self.auvo.iter_group_clients(group) if "id" in c})  # type: ignore[arg-type]
            return members[0]

        out = []
        for record in self._records(notification, stream):
            envelope, reason = task_event(record, self.task_rules, group_members, tenant=self.tenant)
            if envelope is None:
                self._count(f"filtered_{reason}")
                version = record.get("dateLastUpdate")
                facts = task_facts(record)
                self.decisions.left_out(
                    str(record.get("taskID")), version, str(reason), via="webhook", **facts
                )
            else:
                out.append(envelope)
        self.decisions.flush()
        return out

    def _records(self, notification: AuvoNotification, stream: str) -> list[dict[str, Any]]:
        """The snapshots to build events from: the entities when complete, else fresh reads."""
        model, fetch, key = (
            (AuvoCustomer, self.auvo.get_customer, "id")
            if stream == CUSTOMERS_STREAM
            else (AuvoTask, self.auvo.get_task, "taskID")
        )
        entities = notification.entities or [{key: notification.entity_id}]
        out = []
        for entity in entities:
            if _complete(entity, model):
                out.append(entity)
                continue
            record_id = record_id_of(entity.get(key) or entity.get("id")) or notification.entity_id
            if not record_id:
                raise NotificationRejected(400, "Auvo notification names no entity id")
            record = self._fetch(fetch, record_id)
            if record is not None:
                out.append(record)
        return out

    def _fetch(self, fetch: Callable[[Any], dict[str, Any]], record_id: Any) -> dict[str, Any] | None:
        try:
            self._count("fetched")
            return fetch(record_id)
        except NotFound:
            # deleted since the notification was sent: nothing to publish, and no retry from Auvo
            self._count("gone")
            return None

    def _skip(self, why: str) -> list[Envelope]:
        self._count(why)
        return []

    def _count(self, what: str) -> None:
        self.outcomes[what] = self.outcomes.get(what, 0) + 1


__all__ = ["AuvoEvents", "AuvoNotification", "parse_auvo_notification"]
