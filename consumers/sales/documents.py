"""Create-or-update of one Bling sales document (pedido de venda, proposta comercial) per Auvo job.

Shared by the task flow and the quote flow so that "one job, one document" is one piece of code:
- the id map answers first (entity "task" for a job's pedido keyed by its task, "quote_order" for
  the pedido of a quotation without task, "quote" for a proposta);
- a write whose body equals the last one we sent is skipped (`unchanged`), without a request;
- without a link, the document is looked up in Bling by its marker before anything is created
  (a pedido by `numeroLoja` through the `numerosLojas[]` filter, every time, since both flows may
  create a job's pedido; a proposta by the marker in its internal note among the contato's
  propostas, only when an earlier attempt may have created it), so a crash between the create and
  the commit never makes a second document;
- a document Bling has closed (pedido atendido / cancelado / with a nota fiscal; proposta
  aprovada / concluída / não aprovada) is left alone (`skipped_closed`);
- a document a Bling user deleted (told by a Bling webhook, or found by a 404 on a linked id) is
  not created again behind the user's back: the link is forgotten, the deletion recorded, and
  every later change of the job is `skipped_deleted_in_bling` until the operator runs
  `auvo-bling webhooks allow-recreate` (one GET that 404s, then no request at all: no 404 loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from consumers.base import (
    CREATED,
    UNCHANGED,
    UPDATED,
    Outcome,
    client_timeout,
    noted_create,
    refuse_while_create_in_doubt,
)
from consumers.sales.mapping import body_fingerprint, order_closed
from contracts.store_keys import QUOTE_PROPOSAL
from infra.errors import NotFound
from infra.store import StateFacts, StateReads, Store

# fingerprint entities (what we last wrote, by Bling id)
ORDER_WRITTEN = "sales_order"
PROPOSAL_WRITTEN = "proposal"

CLOSED = "skipped_closed"
DELETED_IN_BLING = "skipped_deleted_in_bling"
CLOSED_PROPOSAL_SITUATIONS = frozenset({"Aprovado", "Concluído", "Não aprovado"})


def job_lock_key(tenant: str, kind: str, auvo_id: str | int) -> str:
    """The lock both flows take before touching one job's sales document."""
    return f"{tenant}:sales-document:{kind}:{auvo_id}"


class BlingSalesDocuments(Protocol):
    def iter_sales_orders(self, **filters: Any) -> Iterator[dict[str, Any]]: ...
    def get_sales_order(self, order_id: int) -> dict[str, Any]: ...
    def create_sales_order(self, body: dict[str, Any]) -> int: ...
    def update_sales_order(self, order_id: int, body: dict[str, Any]) -> None: ...
    def iter_proposals(self, **filters: Any) -> Iterator[dict[str, Any]]: ...
    def get_proposal(self, proposal_id: int) -> dict[str, Any]: ...
    def create_proposal(self, body: dict[str, Any]) -> int: ...
    def update_proposal(self, proposal_id: int, body: dict[str, Any]) -> None: ...


# A job's pedido can be written by the task flow and by the quote flow (a quote of that task with
# `quotes.target = pedido_de_venda`): its create intents are kept under the record, not the flow,
# so either flow waits for the other's unanswered create instead of making a second pedido.
ORDER_RECORD = "bling.pedido"


@dataclass(frozen=True)
class KnownOrder:
    """What the event's state read says of a job's pedido (`order_reads`), trusted for the event:
    its link, fingerprint and intent are written only under the job's lock, which the caller holds.
    """

    deleted_in_bling: bool
    bling_id: str | None
    written: str | None  # the fingerprint of the body last written to the linked pedido
    intent_noted_at: datetime | None


def order_reads(entity: str, auvo_id: str) -> StateReads:
    """The rows `write_order` reads, for the event's state read (`HandlerBase.state_reads`)."""
    return StateReads(
        links=((entity, auvo_id),),
        linked_fingerprints=((ORDER_WRITTEN, entity, auvo_id),),
        intents=((ORDER_RECORD, f"{entity}:{auvo_id}"),),
        deletions=((entity, auvo_id),),
    )


def known_order(facts: StateFacts, entity: str, auvo_id: str) -> KnownOrder:
    """`order_reads`' answers."""
    return KnownOrder(
        facts.deletions[(entity, auvo_id)],
        facts.links[(entity, auvo_id)],
        facts.linked_fingerprints[(ORDER_WRITTEN, entity, auvo_id)],
        facts.intents[(ORDER_RECORD, f"{entity}:{auvo_id}")],
    )


class SalesDocumentWriter:
    def __init__(self, store: Store, bling: BlingSalesDocuments, consumer: str) -> None:
        self.store = store
        self.bling = bling
        self.consumer = consumer

    # --- pedidos de venda ---------------------------------------------------------------------

    def write_order(
        self,
        tenant: str,
        entity: str,
        auvo_id: str,
        marker: str,
        body: dict[str, Any],
        *,
        state: KnownOrder | None = None,
    ) -> Outcome:
        """Create or update the pedido linked to (entity, auvo_id); the caller commits the outcome.
        `state`: the store's rows of it as the event's state read found them (else read here)."""
        fp = body_fingerprint(body)
        deleted = state.deleted_in_bling if state else self.store.is_deleted_in_bling(tenant, entity, auvo_id)
        if deleted:
            return Outcome(DELETED_IN_BLING)
        known = state.bling_id if state else self.store.bling_id_for(tenant, entity, auvo_id)
        existing: dict[str, Any] | None = None
        if known is not None:
            written = (
                state.written if state else self.store.fingerprint(tenant, "bling", ORDER_WRITTEN, known)
            )
            if written == fp:
                return Outcome(UNCHANGED, link=(entity, auvo_id, known))
            try:
                existing = self.bling.get_sales_order(int(known))
            except NotFound:
                self.store.note_deleted_in_bling(tenant, entity, auvo_id, known, via="404")
                return Outcome(DELETED_IN_BLING)
        if existing is None:
            existing = self.find_order(marker)
        intent = f"{entity}:{auvo_id}"
        if existing is None:
            bling_id = str(
                self._create(
                    tenant,
                    intent,
                    f"the pedido {marker}",
                    lambda: self.bling.create_sales_order(body),
                    namespace=ORDER_RECORD,
                    noted_at=state.intent_noted_at if state else None,
                    noted_read=state is not None,
                )
            )
            result = CREATED
        else:
            bling_id = str(existing["id"])
            if order_closed(existing):
                return Outcome(CLOSED, link=(entity, auvo_id, bling_id))
            self.bling.update_sales_order(int(bling_id), body)
            result = UPDATED
        return Outcome(
            result,
            link=(entity, auvo_id, bling_id),
            fingerprints=[("bling", ORDER_WRITTEN, bling_id, fp)],
            # the pedido is known now (created, or found by its marker after a create in doubt):
            # its intent is cleared in the commit (consumers/base.py)
            answered_intents=[(ORDER_RECORD, intent)],
        )

    def _create(
        self,
        tenant: str,
        intent_id: str,
        what: str,
        create: Callable[[], int],
        *,
        namespace: str | None = None,
        noted_at: datetime | None = None,
        noted_read: bool = False,
    ) -> int:
        """Wait for an unanswered earlier create of it (EntityBusy), then create with the intent noted.
        `namespace`: where the intent is kept (default: the flow, which clears it on commit);
        `noted_read`: `noted_at` is that intent as the event's state read found it (else read here)."""
        where = namespace or self.consumer
        if not noted_read:
            noted_at = self.store.intent_noted_at(tenant, where, intent_id)
        refuse_while_create_in_doubt(noted_at, client_timeout(self.bling), what)
        return noted_create(self.store, tenant, where, intent_id, create)

    def find_order(self, marker: str) -> dict[str, Any] | None:
        """The pedido whose `numeroLoja` is this marker, read in full; None if Bling has none."""
        for item in self.bling.iter_sales_orders(**{"numerosLojas[]": [marker]}):
            if item.get("numeroLoja") == marker:
                return self.bling.get_sales_order(int(item["id"]))
        return None

    # --- propostas comerciais -----------------------------------------------------------------

    def write_proposal(
        self, tenant: str, auvo_id: str, marker: str, body: dict[str, Any], *, intent_id: str
    ) -> Outcome:
        """Create or update the proposta of a quotation; `intent_id` is the event's entity id."""
        fp = body_fingerprint(body)
        entity = QUOTE_PROPOSAL
        if self.store.is_deleted_in_bling(tenant, entity, auvo_id):
            return Outcome(DELETED_IN_BLING)
        known = self.store.bling_id_for(tenant, entity, auvo_id)
        existing: dict[str, Any] | None = None
        if known is not None:
            if self.store.fingerprint(tenant, "bling", PROPOSAL_WRITTEN, known) == fp:
                return Outcome(UNCHANGED, link=(entity, auvo_id, known))
            try:
                existing = self.bling.get_proposal(int(known))
            except NotFound:
                self.store.note_deleted_in_bling(tenant, entity, auvo_id, known, via="404")
                return Outcome(DELETED_IN_BLING)
        if existing is None and self.store.intent_noted_at(tenant, self.consumer, intent_id) is not None:
            existing = self.find_proposal(marker, int(body["contato"]["id"]))
        if existing is None:
            bling_id = str(
                self._create(
                    tenant, intent_id, f"the proposta {marker}", lambda: self.bling.create_proposal(body)
                )
            )
            result = CREATED
        else:
            bling_id = str(existing["id"])
            if existing.get("situacao") in CLOSED_PROPOSAL_SITUATIONS:
                return Outcome(CLOSED, link=(entity, auvo_id, bling_id))
            self.bling.update_proposal(int(bling_id), body)
            result = UPDATED
        return Outcome(
            result, link=(entity, auvo_id, bling_id), fingerprints=[("bling", PROPOSAL_WRITTEN, bling_id, fp)]
        )

    def find_proposal(self, marker: str, contact_id: int) -> dict[str, Any] | None:
        """The contato's proposta whose internal note carries `(marker)` (the list has no such filter)."""
        for item in self.bling.iter_proposals(idContato=contact_id):
            proposal = self.bling.get_proposal(int(item["id"]))
            if f"({marker})" in str(proposal.get("observacaoInterna") or ""):
                return proposal
        return None
