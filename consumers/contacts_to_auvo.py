"""bling.contact.changed -> an Auvo customer upserted.

Auvo's `PUT /customers/` upserts by `id` or `externalId`; we always send the Bling id as
`externalId`, so even a lost id map cannot create a second Auvo customer for one contato. When we
already know the Auvo customer we compare first and skip writes that would change nothing,
which is what stops an update from ping-ponging between the two systems.
"""

from __future__ import annotations

from typing import Any, Protocol

from consumers.base import CREATED, ECHO, UNCHANGED, UPDATED, HandlerBase, Outcome
from consumers.customer_mapping import (
    auvo_customer_body,
    auvo_id_from_marker,
    fields_from_auvo,
    fields_from_bling,
)
from contracts.envelope import Envelope
from contracts.events import AuvoCustomer, BlingContactChanged, parse_payload
from infra.bus.topology import TO_AUVO_CUSTOMERS
from infra.errors import NotFound
from infra.store import Store

ENTITY = "customer"


class AuvoCustomers(Protocol):
    def get_customer(self, customer_id: int | str) -> dict[str, Any]: ...
    def upsert_customer(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...


class BlingContactToAuvoCustomer(HandlerBase):
    consumer = TO_AUVO_CUSTOMERS.name

    def __init__(self, store: Store, auvo: AuvoCustomers, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.auvo = auvo

    def apply(self, envelope: Envelope) -> Outcome:
        contact = parse_payload(envelope, BlingContactChanged).contact
        tenant, bling_id = envelope.tenant, str(contact.id)
        fields = fields_from_bling(contact)
        fp = fields.fingerprint()
        if self.store.fingerprint(tenant, "bling", ENTITY, bling_id) == fp:
            return Outcome(ECHO)  # this Bling state is one we wrote from Auvo

        auvo_id = self.store.auvo_id_for(tenant, ENTITY, bling_id) or auvo_id_from_marker(contact.codigo)
        if auvo_id is not None:
            try:
                current = AuvoCustomer.model_validate(self.auvo.get_customer(auvo_id))
            except NotFound:
                self.store.forget_link(tenant, ENTITY, bling_id=bling_id)
                auvo_id = None
            else:
                if fields_from_auvo(current).fingerprint() == fp:
                    return Outcome(
                        UNCHANGED,
                        link=(ENTITY, auvo_id, bling_id),
                        fingerprints=[("auvo", ENTITY, auvo_id, fp)],
                    )
        body = auvo_customer_body(fields, bling_id=bling_id, auvo_id=int(auvo_id) if auvo_id else None)
        record, created = self.auvo.upsert_customer(body)
        written_id = str(record["id"])
        return Outcome(
            CREATED if created else UPDATED,
            link=(ENTITY, written_id, bling_id),
            fingerprints=[("auvo", ENTITY, written_id, fp)],
        )
