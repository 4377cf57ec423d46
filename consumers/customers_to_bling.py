"""auvo.customer.changed -> a Bling contato created or updated.

Decide: drop echoes of our own writes (fingerprint), find the counterpart (id map, then the
`AUVO-<id>` marker if an earlier attempt may have created it, then the CPF/CNPJ), and skip the
write when Bling already holds the same data. Translate: `customer_mapping`. Apply: one POST or
one PUT; the base class records the result atomically.
"""

from __future__ import annotations

from typing import Any, Protocol

from consumers.base import CREATED, ECHO, UNCHANGED, UPDATED, HandlerBase, Outcome
from consumers.customer_mapping import (
    CustomerFields,
    auvo_marker,
    bling_contact_body,
    digits,
    fields_from_auvo,
    fields_from_bling,
)
from contracts.envelope import Envelope
from contracts.events import AuvoCustomerChanged, BlingContact, parse_payload
from infra.bus.topology import TO_BLING_CONTACTS
from infra.errors import NotFound
from infra.store import Store

ENTITY = "customer"


class BlingContacts(Protocol):
    def iter_contacts(self, **filters: Any) -> Any: ...
    def get_contact(self, contact_id: int) -> dict[str, Any]: ...
    def create_contact(self, body: dict[str, Any]) -> int: ...
    def update_contact(self, contact_id: int, body: dict[str, Any]) -> None: ...


class AuvoCustomerToBlingContact(HandlerBase):
    consumer = TO_BLING_CONTACTS.name

    def __init__(self, store: Store, bling: BlingContacts, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.bling = bling

    def apply(self, envelope: Envelope) -> Outcome:
        customer = parse_payload(envelope, AuvoCustomerChanged).customer
        tenant, auvo_id = envelope.tenant, str(customer.id)
        fields = fields_from_auvo(customer)
        fp = fields.fingerprint()
        if self.store.fingerprint(tenant, "auvo", ENTITY, auvo_id) == fp:
            return Outcome(ECHO)  # this Auvo state is one we wrote from Bling

        existing = self._counterpart(tenant, auvo_id, fields)
        if existing is None:
            body = bling_contact_body(fields, auvo_id=auvo_id)
            bling_id = str(self.bling.create_contact(body))
            result = CREATED
        else:
            bling_id = str(existing["id"])
            if fields_from_bling(BlingContact.model_validate(existing)).fingerprint() == fp:
                result = UNCHANGED
            else:
                body = bling_contact_body(fields, auvo_id=auvo_id, existing=existing)
                self.bling.update_contact(int(bling_id), body)
                result = UPDATED
        return Outcome(
            result,
            link=(ENTITY, auvo_id, bling_id),
            fingerprints=[("bling", ENTITY, bling_id, fp)],
        )

    def _counterpart(self, tenant: str, auvo_id: str, fields: CustomerFields) -> dict[str, Any] | None:
        """The Bling contato (raw, as Bling returned it) this Auvo customer corresponds to, if any."""
        known = self.store.bling_id_for(tenant, ENTITY, auvo_id)
        if known is not None:
            try:
                return self.bling.get_contact(int(known))
            except NotFound:
                # deleted in Bling: forget the link and fall through to re-create (README: policies)
                self.store.forget_link(tenant, ENTITY, auvo_id=auvo_id)
        maybe_created_before = self.store.note_intent(tenant, self.consumer, auvo_id)
        if maybe_created_before:
            marker = auvo_marker(auvo_id)
            for item in self.bling.iter_contacts(pesquisa=marker, criterio=1):
                if item.get("codigo") == marker:
                    return self.bling.get_contact(int(item["id"]))
        if fields.document:
            for item in self.bling.iter_contacts(numeroDocumento=fields.document, criterio=1):
                if digits(item.get("numeroDocumento")) == fields.document:
                    linked = self.store.auvo_id_for(tenant, ENTITY, str(item["id"]))
                    if linked is None or linked == auvo_id:
                        return self.bling.get_contact(int(item["id"]))
        return None
