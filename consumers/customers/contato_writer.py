"""auvo.customer.changed -> a Bling contato created or updated.

Decide: drop echoes of our own writes (fingerprint), find the counterpart (id map, then the
`AUVO-<id>` marker if an earlier attempt may have created it, then the CPF/CNPJ), and skip the
write when Bling already holds the same data. Translate: `customer_mapping`. Apply: one POST or
one PUT; the base class records the result atomically.
"""

from __future__ import annotations

from collections.abc import Callable
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
    client_timeout,
    noted_create,
    refuse_while_create_in_doubt,
)
from consumers.customers.conflicts import Decision, bling_changed_since, decide, utc_stamp
from consumers.customers.mapping import auvo_customer_body, auvo_marker, bling_contact_body, fields_from_bling
from consumers.customers.matching import MatchKind, Rule, documents_compatible, match_key
from contracts.customer_fields import CustomerFields, digits, fields_from_auvo
from contracts.envelope import Envelope
from contracts.events import AuvoCustomer, AuvoCustomerChanged, BlingContact, parse_payload
from infra.bus.topology import TO_AUVO_CUSTOMERS, TO_BLING_CONTACTS
from infra.errors import NotFound
from infra.store import Store

ENTITY = "customer"

CustomerFetch = Callable[[int | str], dict[str, Any]]  # Auvo `GET /customers/{id}`


class BlingContacts(Protocol):
    def iter_contacts(self, **filters: Any) -> Any: ...
    def get_contact(self, contact_id: int) -> dict[str, Any]: ...
    def create_contact(self, body: dict[str, Any]) -> int: ...
    def update_contact(self, contact_id: int, body: dict[str, Any]) -> None: ...


class AuvoCustomerWriter(Protocol):
    def upsert_customer(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...


class AuvoCustomerToBlingContact(HandlerBase):
    """The one writer of Bling contatos from Auvo customers: the consumer, the backfill
    (`write_planned`) and the pedido that needs its contato (`ensure_contact`) all write through
    it, under the same entity lock and write intent (`record`)."""

    consumer = TO_BLING_CONTACTS.flow
    record = "bling.contato"
    link_entity = ENTITY

    def __init__(
        self, store: Store, bling: BlingContacts, *, auvo: AuvoCustomerWriter | None = None, **kwargs: Any
    ) -> None:
        """`auvo` is given in `both` mode only: it turns on conflict resolution (a newer Bling
        change wins and is written to Auvo instead)."""
        super().__init__(store, **kwargs)
        self.bling = bling
        self.auvo = auvo

    def apply(self, envelope: Envelope) -> Outcome:
        customer = parse_payload(envelope, AuvoCustomerChanged).customer
        return self.write_contact(envelope.tenant, customer)

    def write_contact(
        self,
        tenant: str,
        customer: AuvoCustomer,
        *,
        on_demand: bool = False,
        planned: bool = False,
        known: dict[str, Any] | None = None,
    ) -> Outcome:
        """Decide and write the contato of one Auvo customer; the caller holds the entity lock
        and records the outcome.

        `on_demand` (a pedido needs the contato): never an echo to drop, and the `AUVO-<id>` marker
        is always looked up before creating (once per customer, so worth a request). `planned`
        (the backfill): the matching rule already ran over both sides' full lists, so it is not
        run again per record; the id map and the create-in-doubt check still are, so a record
        another writer created meanwhile is found, not duplicated. `known`: the linked contato as
        the caller already read it in full, to spare a request.
        """
        auvo_id = str(customer.id)
        fields = fields_from_auvo(customer)
        fp = fields.fingerprint()
        if not (on_demand or planned) and self._known(tenant, auvo_id, "auvo", auvo_id) == fp:
            return Outcome(ECHO)  # this Auvo state is one we wrote from Bling

        existing = self._counterpart(
            tenant, auvo_id, fields, look_up_marker=on_demand, match=not planned, known=known
        )
        if existing is None:
            body = bling_contact_body(fields, auvo_id=auvo_id)
            bling_id = str(
                noted_create(
                    self.store, tenant, self.writes, auvo_id, lambda: self.bling.create_contact(body)
                )
            )
            result = CREATED
        else:
            bling_id = str(existing["id"])
            bling_fields = fields_from_bling(BlingContact.model_validate(existing))
            decision = decide(fp, bling_fields.fingerprint(), self._known(tenant, auvo_id, "bling", bling_id))
            if decision is Decision.UNCHANGED:
                result = UNCHANGED
            elif (
                decision is Decision.CONFLICT
                and self.auvo is not None
                and not on_demand
                and bling_changed_since(self.bling, bling_id, customer.dateLastUpdate)
            ):
                return self._bling_wins(auvo_id, bling_id, bling_fields)
            else:
                body = bling_contact_body(fields, auvo_id=auvo_id, existing=existing)
                self.bling.update_contact(int(bling_id), body)
                result = CONFLICT_AUVO_WON if decision is Decision.CONFLICT else UPDATED
        return Outcome(
            result,
            link=(ENTITY, auvo_id, bling_id),
            fingerprints=[("bling", ENTITY, bling_id, fp), ("auvo", ENTITY, auvo_id, fp)],
            # Bling's state as of now is settled: older Bling events of this contato are stale
            versions=[(TO_AUVO_CUSTOMERS.flow, bling_id, utc_stamp())],
        )

    def _known(self, tenant: str, auvo_id: str, system: str, entity_id: str) -> str | None:
        """The fingerprint of the state we last wrote to, or read from, one side (None: never);
        from the event's state when it covers that record (the customer or its linked contato)."""
        state = self.known_state(tenant, auvo_id)
        if state is not None and (system == "auvo" or entity_id == state.bling_id):
            return state.fingerprints.get((system, entity_id))
        return self.store.fingerprint(tenant, system, ENTITY, entity_id)

    def _linked(self, tenant: str, auvo_id: str) -> str | None:
        state = self.known_state(tenant, auvo_id)
        return state.bling_id if state is not None else self.store.bling_id_for(tenant, ENTITY, auvo_id)

    def _bling_wins(self, auvo_id: str, bling_id: str, bling_fields: CustomerFields) -> Outcome:
        """Both changed and Bling's change is the newer one: Auvo gets Bling's data."""
        assert self.auvo is not None
        record, _ = self.auvo.upsert_customer(
            auvo_customer_body(bling_fields, bling_id=bling_id, auvo_id=int(auvo_id))
        )
        fp = bling_fields.fingerprint()
        versions = [(TO_AUVO_CUSTOMERS.flow, bling_id, utc_stamp())]
        if record.get("dateLastUpdate"):  # Auvo events older than our write are stale now
            versions.append((self.consumer, auvo_id, str(record["dateLastUpdate"])))
        return Outcome(
            CONFLICT_BLING_WON,
            link=(ENTITY, auvo_id, bling_id),
            fingerprints=[("bling", ENTITY, bling_id, fp), ("auvo", ENTITY, auvo_id, fp)],
            versions=versions,
        )

    def ensure_contact(
        self, tenant: str, customer_id: int | str, fetch: CustomerFetch, *, linked: str | None = None
    ) -> str:
        """The Bling contato id of an Auvo customer, creating the contato now if there is none.

        A pedido de venda needs its contato whatever the customer direction is. The customer's
        own lock is taken (the same one this consumer's events take), the write goes through the
        same decision as an `auvo.customer.changed` event, and its link is committed at once, so a
        later event of that customer finds it and changes nothing. `fetch` reads the Auvo customer
        only when no link exists yet. `linked`: the link as the caller's state read already found it
        (a link once made is kept: a contato deleted in Bling is found by the next contato event).
        """
        auvo_id = str(customer_id)
        if linked is not None:
            return linked
        known = self.store.bling_id_for(tenant, ENTITY, auvo_id)
        if known is not None:
            return known
        with self.entity_lock(self.record_lock(tenant, auvo_id)):
            known = self.store.bling_id_for(tenant, ENTITY, auvo_id)
            if known is not None:
                return known
            customer = AuvoCustomer.model_validate(fetch(customer_id))
            outcome = self.write_contact(tenant, customer, on_demand=True)
            self.commit_write(tenant, auvo_id, outcome, counter=self.consumer)
            assert outcome.link is not None
            return outcome.link[2]

    def write_planned(
        self, tenant: str, customer: AuvoCustomer, *, known: dict[str, Any] | None = None, counter: str
    ) -> Outcome:
        """A write the backfill planned: under the entity lock, recorded at once (`commit_write`)."""
        write = partial(self.write_contact, tenant, customer, planned=True, known=known)
        return self.write_locked(tenant, str(customer.id), write, counter=counter)

    def _counterpart(
        self,
        tenant: str,
        auvo_id: str,
        fields: CustomerFields,
        *,
        look_up_marker: bool = False,
        match: bool = True,
        known: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The Bling contato (raw, as Bling returned it) this Auvo customer corresponds to, if any."""
        linked = self._linked(tenant, auvo_id)
        if linked is not None:
            if known is not None and str(known.get("id")) == linked:
                return known
            try:
                return self.bling.get_contact(int(linked))
            except NotFound:
                # deleted in Bling: forget the link and fall through to re-create (README: policies)
                self.store.forget_link(tenant, ENTITY, auvo_id=auvo_id)
        noted_at = self.intent_noted_at(tenant, auvo_id)
        if noted_at is not None or look_up_marker:
            marker = auvo_marker(auvo_id)
            for item in self.bling.iter_contacts(pesquisa=marker, criterio=1):
                if item.get("codigo") == marker:
                    return self.bling.get_contact(int(item["id"]))
            refuse_while_create_in_doubt(
                noted_at, client_timeout(self.bling), f"the contato of Auvo customer {auvo_id}"
            )
        return self._match(tenant, auvo_id, fields) if match else None

    def _match(self, tenant: str, auvo_id: str, fields: CustomerFields) -> dict[str, Any] | None:
        """The matching rule (`customer_matching.match_key`) by CPF/CNPJ, then by e-mail.

        Candidates already linked to another customer take no part. Our side's peers come from
        the Auvo customer index the poller keeps (when it has one): two Auvo customers sharing
        the CPF/CNPJ of one contato are as ambiguous as two contatos sharing one customer's.
        """
        if fields.document:
            listed = self.bling.iter_contacts(numeroDocumento=fields.document, criterio=1)
            theirs = [
                str(item["id"])
                for item in listed
                if digits(item.get("numeroDocumento")) == fields.document
                and self._free(tenant, item, auvo_id)
            ]
            ours = self._peers(tenant, auvo_id, "document", fields.document) if theirs else [auvo_id]
            match = match_key(Rule.DOCUMENT, ours, theirs)
            if match.kind is MatchKind.UNIQUE:
                return self.bling.get_contact(int(match.counterpart or 0))
            if match.kind is MatchKind.AMBIGUOUS:
                raise match.ambiguity("Auvo customers", "Bling contatos")
        if fields.email:
            # Bling's list does not show e-mails: each candidate the search finds is read in full
            candidates: dict[str, dict[str, Any]] = {}
            for item in self.bling.iter_contacts(pesquisa=fields.email, criterio=1):
                if self._free(tenant, item, auvo_id):
                    contact = self.bling.get_contact(int(item["id"]))
                    if (contact.get("email") or "").strip().lower() == fields.email and documents_compatible(
                        fields.document, digits(contact.get("numeroDocumento"))
                    ):
                        candidates[str(contact["id"])] = contact
            # no candidate: no match whoever our peers are, so the index is not asked
            ours = self._peers(tenant, auvo_id, "email", fields.email) if candidates else [auvo_id]
            match = match_key(Rule.EMAIL, ours, candidates)
            if match.kind is MatchKind.UNIQUE:
                return candidates[match.counterpart or ""]
            if match.kind is MatchKind.AMBIGUOUS:
                raise match.ambiguity("Auvo customers", "Bling contatos")
        return None

    def _peers(self, tenant: str, auvo_id: str, kind: str, key: str) -> list[str]:
        """This customer and the other unlinked Auvo customers the index lists under `key`."""
        indexed = self.store.indexed_customers(tenant, "auvo", kind, key)
        return [auvo_id] + [
            other
            for other in indexed
            if other != auvo_id and self.store.bling_id_for(tenant, ENTITY, other) is None
        ]

    def _free(self, tenant: str, item: dict[str, Any], auvo_id: str) -> bool:
        """A contato not yet linked to another Auvo customer."""
        return self.store.auvo_id_for(tenant, ENTITY, str(item["id"])) in (None, auvo_id)
