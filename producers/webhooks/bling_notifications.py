"""Bling's order and product notifications -> our id map stays true.

Bling's OpenAPI document describes no webhook payloads (only the in-app `/notificacoes`), so the
shape here is the one Bling's developer pages show for API v3 webhooks, read tolerantly:

    {"eventId": "...", "date": "2025-01-13T14:32:15Z", "version": "v1",
     "event": "order.created" | "order.updated" | "order.deleted" | "product.deleted" | ...,
     "companyId": "...", "data": {"id": 123, ...}}

Only `event` (resource.action) and `data.id` are required; anything else may be absent. Resource
names are matched loosely ("order" / "pedido" / "sales_order", "product" / "produto",
"proposal" / "proposta"), since Bling has renamed things between versions.

Policy (README: "Webhooks"):
- created / updated, for a document or produto we created: the link is kept (nothing to change;
  our next write still updates it, and a closed pedido is still left alone by the consumer);
- deleted, for a pedido or proposta we created: the link is forgotten and the deletion recorded,
  so the next change of the Auvo job is `skipped_deleted_in_bling` instead of silently creating
  it again; `auvo-bling webhooks allow-recreate` lifts that;
- deleted, for a produto we created: the link is forgotten (so no pedido is ever sent with a dead
  produto id) and the catalogue creates it again when a pedido next sells it, because a pedido
  cannot be written without it; the deletion is recorded for `status`;
- anything about a record we did not create, or another resource, is acknowledged and ignored.

These notifications change only the store, in one short transaction, so the receiver answers
within Bling's 5 s and nothing needs to travel on the bus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from contracts.store_keys import JOB_ORDER, QUOTE_ORDER, QUOTE_PROPOSAL
from infra.store import Store
from producers.webhooks.verification import NotificationRejected

ORDERS_STREAM = "bling.orders"
PRODUCTS_STREAM = "bling.products"
PROPOSALS_STREAM = "bling.proposals"

RESOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    # resource name in `event` -> (stream, id map entities that can hold its id)
    "order": (ORDERS_STREAM, (JOB_ORDER, QUOTE_ORDER)),
    "orders": (ORDERS_STREAM, (JOB_ORDER, QUOTE_ORDER)),
    "sales_order": (ORDERS_STREAM, (JOB_ORDER, QUOTE_ORDER)),
    "pedido": (ORDERS_STREAM, (JOB_ORDER, QUOTE_ORDER)),
    "pedido_venda": (ORDERS_STREAM, (JOB_ORDER, QUOTE_ORDER)),
    "proposal": (PROPOSALS_STREAM, (QUOTE_PROPOSAL,)),
    "commercial_proposal": (PROPOSALS_STREAM, (QUOTE_PROPOSAL,)),
    "proposta": (PROPOSALS_STREAM, (QUOTE_PROPOSAL,)),
    "proposta_comercial": (PROPOSALS_STREAM, (QUOTE_PROPOSAL,)),
    "product": (PRODUCTS_STREAM, ("product", "service")),
    "produto": (PRODUCTS_STREAM, ("product", "service")),
    # stock movements name their produto (`data.produto.id`); the catalogue flow acts on them
    "stock": (PRODUCTS_STREAM, ()),
    "virtual_stock": (PRODUCTS_STREAM, ()),
}
# resource.action, each short enough for the stream it is kept under (`bling.<resource>`, 64 chars);
# names of resources we do not handle still match, so their notifications are acknowledged and ignored
EVENT_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,39}\.[a-z][a-z0-9_-]{0,39}")
BLING_ID = re.compile(r"[1-9][0-9]{0,18}")  # Bling's ids are positive 64-bit integers
CATALOGUE_ENTITIES = frozenset({"product", "service"})
DELETED = frozenset({"deleted", "delete", "excluded", "removed", "exclusao"})


@dataclass(frozen=True)
class BlingNotification:
    event: str
    resource: str
    action: str
    record_id: str
    date: Any
    event_id: str | None = None
    # the record as the notification shows it (read by producers/webhooks/bling_order_outcomes.py)
    data: dict[str, Any] = field(default_factory=dict)


def parse_bling_notification(body: dict[str, Any]) -> BlingNotification:
    """Read `event` and `data.id` (400 without them, or when they are not a name and an id); the
    rest is optional.

    Both end up in the store (the stream `status` shows, the id map's key): a name or id the store's
    columns cannot hold (too long, a NUL byte, which PostgreSQL refuses) would be a 503 that Bling
    resends for three days, so it is refused here with a 400 instead.
    """
    event = body.get("event")
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event.strip().lower()):
        raise NotificationRejected(400, "Bling notification has no event like 'order.updated'")
    resource, _, action = event.strip().lower().rpartition(".")
    data = body.get("data")
    record_id = data.get("id") if isinstance(data, dict) else None
    if record_id in (None, "") and isinstance(data, dict) and isinstance(data.get("produto"), dict):
        record_id = data["produto"].get("id")  # a stock notification names its produto
    if record_id in (None, ""):
        raise NotificationRejected(400, "Bling notification has no data.id")
    if isinstance(record_id, bool) or not BLING_ID.fullmatch(str(record_id).strip()):
        raise NotificationRejected(400, "Bling notification's data.id is not a Bling id (a positive integer)")
    record_id = str(record_id).strip()
    event_id = body.get("eventId")
    return BlingNotification(
        event=event,
        resource=resource,
        action=action,
        record_id=str(record_id),
        date=body.get("date"),
        event_id=str(event_id) if event_id is not None else None,
        data=data if isinstance(data, dict) else {},
    )


def stream_of(notification: BlingNotification) -> str:
    known = RESOURCES.get(notification.resource)
    return known[0] if known else f"bling.{notification.resource}"


@dataclass
class BlingIdMapKeeper:
    """Applies one notification to the id map; returns what it did (for the answer and the logs)."""

    store: Store
    tenant: str = "default"

    def apply(self, notification: BlingNotification) -> str:
        known = RESOURCES.get(notification.resource)
        if known is None:
            return "ignored_resource"
        _, entities = known
        for entity in entities:
            auvo_id = self.store.auvo_id_for(self.tenant, entity, notification.record_id)
            if auvo_id is None:
                continue
            if notification.action not in DELETED:
                return "link_kept"
            if entity in CATALOGUE_ENTITIES:
                self.store.forget_link(self.tenant, entity, auvo_id=auvo_id)
                return "link_forgotten"
            self.store.note_deleted_in_bling(
                self.tenant, entity, auvo_id, notification.record_id, via="webhook"
            )
            return "deleted_in_bling"
        return "not_ours"
