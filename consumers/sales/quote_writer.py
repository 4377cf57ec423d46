"""auvo.quote.status_reached -> a Bling proposta comercial (default) or pedido de venda.

Same preparation as the task flow (contato on demand, a Bling produto per product). The target is
`quotes.target`. With `pedido_de_venda`, one Auvo job never gets two pedidos (README: "Tasks and
quotes"):
- a quotation linked to a task (`taskID`) writes the job's pedido, keyed by the task (id map
  entity "task", `numeroLoja` AUVO-TASK-<taskID>), under the job's lock that the task flow takes;
- once the task flow has applied that task, the task owns the pedido (it is the work actually done)
  and the quotation's later changes leave it alone (`skipped_task_owns`);
- a quotation without a task gets its own pedido (AUVO-ORC-<id>); when it later shows a `taskID`
  and the task has no pedido yet, that pedido becomes the job's (linked to the task, re-marked), so
  the task flow updates it instead of creating another.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from consumers.base import HandlerBase, Outcome
from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from consumers.sales.catalog import BlingCatalog
from consumers.sales.documents import BlingSalesDocuments, SalesDocumentWriter, job_lock_key
from consumers.sales.mapping import (
    SaleDocument,
    document_from_quote,
    proposal_body,
    sales_order_body,
    task_marker,
)
from contracts.envelope import Envelope
from contracts.events import AuvoQuote, AuvoQuoteStatusReached, parse_payload
from contracts.store_keys import JOB_ORDER, QUOTE_ORDER
from infra.bus.topology import TO_BLING_ORDERS, TO_BLING_PROPOSALS
from infra.errors import ContractViolation, NotFound
from infra.store import Store

TASK_OWNS = "skipped_task_owns"
NO_ITEMS = "skipped_no_items"

Target = Literal["proposta_comercial", "pedido_de_venda"]


class AuvoQuoteReads(Protocol):
    def get_customer(self, customer_id: int | str) -> dict[str, Any]: ...
    def get_product(self, product_id: int | str) -> dict[str, Any]: ...


class AuvoQuoteToBling(HandlerBase):
    consumer = TO_BLING_PROPOSALS.flow

    def __init__(
        self,
        store: Store,
        bling: BlingSalesDocuments,
        auvo: AuvoQuoteReads,
        contacts: AuvoCustomerToBlingContact,
        catalog: BlingCatalog,
        *,
        target: Target = "proposta_comercial",
        **kwargs: Any,
    ) -> None:
        super().__init__(store, **kwargs)
        self.auvo = auvo
        self.contacts = contacts
        self.catalog = catalog
        self.target = target
        self.documents = SalesDocumentWriter(store, bling, self.consumer)

    def lock_key(self, envelope: Envelope) -> str:
        return job_lock_key(envelope.tenant, "quote", envelope.entity_id)

    def apply(self, envelope: Envelope) -> Outcome:
        quote = parse_payload(envelope, AuvoQuoteStatusReached).quote
        tenant = envelope.tenant
        catalogue = self._auvo_products(quote)
        if self.target == "proposta_comercial":
            doc = document_from_quote(quote, catalogue)
            if not doc.lines:
                return Outcome(NO_ITEMS)
            contact_id, product_ids = self._prepare(tenant, quote, doc, catalogue)
            body = proposal_body(doc, contact_id=contact_id, product_ids=product_ids)
            return self.documents.write_proposal(
                tenant, str(quote.publicId), doc.marker, body, intent_id=envelope.entity_id
            )
        if not quote.taskID:
            doc = document_from_quote(quote, catalogue)
            if not doc.lines:
                return Outcome(NO_ITEMS)
            contact_id, product_ids = self._prepare(tenant, quote, doc, catalogue)
            body = sales_order_body(doc, contact_id=contact_id, product_ids=product_ids)
            return self.documents.write_order(tenant, QUOTE_ORDER, str(quote.publicId), doc.marker, body)
        with self.entity_lock(job_lock_key(tenant, "task", quote.taskID)):
            return self._write_job_order(tenant, quote, catalogue)

    def _write_job_order(
        self, tenant: str, quote: AuvoQuote, catalogue: dict[str, dict[str, Any]]
    ) -> Outcome:
        """The pedido of a quotation's job, keyed by its task (held under the job's lock)."""
        task_id = str(quote.taskID)
        job_order = self.store.bling_id_for(tenant, JOB_ORDER, task_id)
        task_applied = self.store.applied_version(tenant, TO_BLING_ORDERS.flow, task_id) is not None
        if job_order is not None and task_applied:
            return Outcome(TASK_OWNS)
        own = self.store.bling_id_for(tenant, QUOTE_ORDER, str(quote.publicId))
        if own is not None and job_order is None:
            # the quotation's own pedido, made before it had a task, becomes the job's pedido
            with self.store.transaction() as conn:
                self.store.link(conn, tenant, JOB_ORDER, task_id, own)
        doc = document_from_quote(quote, catalogue, marker=task_marker(quote.taskID))
        if not doc.lines:
            return Outcome(NO_ITEMS)
        contact_id, product_ids = self._prepare(tenant, quote, doc, catalogue)
        body = sales_order_body(doc, contact_id=contact_id, product_ids=product_ids)
        return self.documents.write_order(tenant, JOB_ORDER, task_id, doc.marker, body)

    def _prepare(
        self, tenant: str, quote: AuvoQuote, doc: SaleDocument, catalogue: dict[str, dict[str, Any]]
    ) -> tuple[int, Any]:
        if not quote.customerId:
            raise ContractViolation(f"Auvo quotation {quote.publicId} has no customer")
        contact_id = self.contacts.ensure_contact(tenant, quote.customerId, self.auvo.get_customer)
        # the Auvo product records were read for the names: matching reuses their code and externalId
        records = {str(r["productId"]): r for r in catalogue.values() if r.get("productId")}
        return int(contact_id), self.catalog.ensure_products(tenant, doc.lines, records)

    def _auvo_products(self, quote: AuvoQuote) -> dict[str, dict[str, Any]]:
        """Auvo product records of the quotation's lines (a line names only the product's id)."""
        out: dict[str, dict[str, Any]] = {}
        for line in quote.products:
            key = str(line.productId)
            if key in out:
                continue
            try:
                out[key] = self.auvo.get_product(key)
            except NotFound:
                out[key] = {}  # deleted from the catalogue since: the line keeps its id as the name
        return out
