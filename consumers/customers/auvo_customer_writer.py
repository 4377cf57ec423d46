"""bling.contact.changed -> an Auvo customer upserted.

Auvo's `PUT /customers/` upserts by `id` or `externalId`; we always send the Bling id as
`externalId`, so even a lost id map cannot create a second Auvo customer for one contato. When we
already know the Auvo customer we compare first and skip writes that would change nothing,
which is what stops an update from ping-ponging between the two systems. In `both` mode a
customer changed on both sides is resolved by `customer_conflicts` (the newer change wins).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, Protocol

from consumers.base import (
    CONFLICT_AUVO_WON,
    CONFLICT_BLING_WON,
    CREATED,
    ECHO,
    UNCHANGED,
    UPDATED,
    HandlerBase,
    Outcome,
)
from consumers.customers.conflicts import Decision, bling_changed_since, decide, utc_stamp
from consumers.customers.mapping import (
    auvo_customer_body,
    auvo_id_from_marker,
    bling_contact_body,
    fields_from_bling,
)
from consumers.customers.matching import MatchKind, Rule, documents_compatible, match_key
from contracts.customer_fields import CustomerFields, fields_from_auvo
from contracts.envelope import Envelope
from contracts.events import AuvoCustomer, BlingContact, BlingContactChanged, parse_payload
from contracts.store_keys import AUVO_CUSTOMERS_INDEXED as AUVO_INDEXED
from infra.bus.topology import TO_AUVO_CUSTOMERS, TO_BLING_CONTACTS
from infra.errors import AuvoIndexNotReady, NotFound
from infra.store import Store

ENTITY = "customer"


class AuvoCustomers(Protocol):
    def get_customer(self, customer_id: int | str) -> dict[str, Any]: ...
    def upsert_customer(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...


class BlingContactWriter(Protocol):
    def iter_contacts(self, **filters: Any) -> Any: ...
    def get_contact(self, contact_id: int) -> dict[str, Any]: ...
    def update_contact(self, contact_id: int, body: dict[str, Any]) -> None: ...


class BlingContactToAuvoCustomer(HandlerBase):
    """The one writer of Auvo customers from Bling contatos: the consumer and the backfill
    (`write_planned`) write through it, under the same entity lock (`record`, keyed by the
    contato's id)."""

    consumer = TO_AUVO_CUSTOMERS.flow
    record = "auvo.customer"

    def __init__(
        self, store: Store, auvo: AuvoCustomers, *, bling: BlingContactWriter | None = None, **kwargs: Any
    ) -> None:
        """`bling` is given in `both` mode only: it turns on conflict resolution (a newer Auvo
        change wins and is written to Bling instead)."""
        super().__init__(store, **kwargs)
        self.auvo = auvo
        self.bling = bling

    def apply(self, envelope: Envelope) -> Outcome:
        contact = parse_payload(envelope, BlingContactChanged).contact
        return self.write_customer(envelope.tenant, contact)

    def write_planned(self, tenant: str, contact: BlingContact, *, counter: str) -> Outcome:
        """A write the backfill planned: under the entity lock, recorded at once (`commit_write`)."""
        write = partial(self.write_customer, tenant, contact, planned=True)
        return self.write_locked(tenant, str(contact.id), write, counter=counter)

    def write_customer(self, tenant: str, contact: BlingContact, *, planned: bool = False) -> Outcome:
        """Decide and write the Auvo customer of one contato (read in full); the caller holds the
        entity lock and records the outcome. `planned` (the backfill): no echo to drop, and the
        matching rule already ran over both sides' lists; the id map is still read first."""
        bling_id = str(contact.id)
        fields = fields_from_bling(contact)
        fp = fields.fingerprint()
        if not planned and self.store.fingerprint(tenant, "bling", ENTITY, bling_id) == fp:
            return Outcome(ECHO)  # this Bling state is one we wrote from Auvo (or already synced)

        auvo_id = (
            self.store.auvo_id_for(tenant, ENTITY, bling_id)
            or auvo_id_from_marker(contact.codigo)
            or (None if planned else self._twin(tenant, bling_id, fields))
        )
        if auvo_id is not None:
            try:
                current = AuvoCustomer.model_validate(self.auvo.get_customer(auvo_id))
            except NotFound:
                self.store.forget_link(tenant, ENTITY, bling_id=bling_id)
                auvo_id = None
            else:
                auvo_fields = fields_from_auvo(current)
                known = self.store.fingerprint(tenant, "auvo", ENTITY, auvo_id)
                decision = decide(fp, auvo_fields.fingerprint(), known)
                if decision is Decision.UNCHANGED:
                    return self._synced(UNCHANGED, auvo_id, bling_id, fp, current.dateLastUpdate)
                if decision is Decision.CONFLICT and self.bling is not None:
                    if not bling_changed_since(self.bling, bling_id, current.dateLastUpdate):
                        return self._auvo_wins(auvo_id, bling_id, auvo_fields, current.dateLastUpdate)
                    return replace(self._write(fields, bling_id, auvo_id), result=CONFLICT_BLING_WON)
        return self._write(fields, bling_id, auvo_id)

    def _twin(self, tenant: str, bling_id: str, fields: CustomerFields) -> str | None:
        """An Auvo customer that already is this person: the matching rule (`match_key`) by
        CPF/CNPJ, then by e-mail; an ambiguous match raises `AmbiguousMatch` (held, not created).

        Auvo's API cannot be searched by document or e-mail, so the Auvo poller keeps an index;
        until its first pass is done we cannot tell "new" from "not indexed yet", and wait. An
        e-mail candidate counts only if its CPF/CNPJ does not contradict the contato's (read from
        Auvo: the index holds keys, not records). This side's peers (other contatos with the same
        key) are not searched here: this handler has no Bling reader outside `both` mode.
        """
        if not (fields.document or fields.email):
            return None
        if self.store.cursor(tenant, AUVO_INDEXED) is None:
            raise AuvoIndexNotReady(
                "waiting for the first pass over Auvo's customers before creating one from Bling"
            )
        keys = ((Rule.DOCUMENT, "document", fields.document), (Rule.EMAIL, "email", fields.email))
        for rule, kind, key in keys:
            if not key:
                continue
            theirs = [
                auvo_id
                for auvo_id in self.store.indexed_customers(tenant, "auvo", kind, key)
                if self.store.bling_id_for(tenant, ENTITY, auvo_id) in (None, bling_id)
            ]
            if rule is Rule.EMAIL:
                theirs = [auvo_id for auvo_id in theirs if self._document_agrees(auvo_id, fields.document)]
            match = match_key(rule, [bling_id], theirs)
            if match.kind is MatchKind.UNIQUE:
                return match.counterpart
            if match.kind is MatchKind.AMBIGUOUS:
                raise match.ambiguity("Bling contatos", "Auvo customers")
        return None

    def _document_agrees(self, auvo_id: str, document: str) -> bool:
        try:
            customer = AuvoCustomer.model_validate(self.auvo.get_customer(auvo_id))
        except NotFound:
            return False  # gone from Auvo since it was indexed
        return documents_compatible(document, fields_from_auvo(customer).document)

    def _write(self, fields: CustomerFields, bling_id: str, auvo_id: str | None) -> Outcome:
        body = auvo_customer_body(fields, bling_id=bling_id, auvo_id=int(auvo_id) if auvo_id else None)
        record, created = self.auvo.upsert_customer(body)
        result = CREATED if created else UPDATED
        stamp = record.get("dateLastUpdate")
        return self._synced(result, str(record["id"]), bling_id, fields.fingerprint(), stamp)

    @staticmethod
    def _synced(result: str, auvo_id: str, bling_id: str, fp: str, auvo_stamp: str | None) -> Outcome:
        """Both sides now hold the state with fingerprint `fp`: remember it for both, and that
        Auvo events of this customer up to `auvo_stamp` are already taken into account."""
        versions = [(TO_BLING_CONTACTS.flow, auvo_id, str(auvo_stamp))] if auvo_stamp else []
        return Outcome(
            result,
            link=(ENTITY, auvo_id, bling_id),
            fingerprints=[("auvo", ENTITY, auvo_id, fp), ("bling", ENTITY, bling_id, fp)],
            versions=versions,
        )

    def _auvo_wins(
        self, auvo_id: str, bling_id: str, auvo_fields: CustomerFields, stamp: str | None
    ) -> Outcome:
        """Both changed and Auvo's change is the newer one: Bling gets Auvo's data."""
        assert self.bling is not None
        existing = self.bling.get_contact(int(bling_id))
        self.bling.update_contact(
            int(bling_id), bling_contact_body(auvo_fields, auvo_id=auvo_id, existing=existing)
        )
        outcome = self._synced(CONFLICT_AUVO_WON, auvo_id, bling_id, auvo_fields.fingerprint(), stamp)
        # Bling's state as of now is ours: older Bling events of this contato are stale
        outcome.versions.append((self.consumer, bling_id, utc_stamp()))
        return outcome
