"""auvo.task.status_reached -> the job's Bling pedido de venda, created or updated.

Decide: the task's lines (a task without lines sells nothing: `skipped_no_items`). Prepare: the
customer's contato (created on demand, whatever the customer direction, since a pedido needs one)
and a Bling produto per product and service (`consumers.sales.catalog`). Translate: `order_mapping`.
Apply: `SalesDocumentWriter.write_order` under the job's lock, which the quote flow takes too, so
the two flows never create two pedidos for one job (README: "Tasks and quotes").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from consumers.base import ECHO, HandlerBase, Outcome
from consumers.customers.contato_writer import ENTITY as CUSTOMER
from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from consumers.sales.catalog import BlingCatalog, product_reads
from consumers.sales.documents import (
    BlingSalesDocuments,
    KnownOrder,
    SalesDocumentWriter,
    job_lock_key,
    known_order,
    order_reads,
)
from consumers.sales.mapping import document_from_task, sales_order_body
from consumers.sales.outcome import task_content_fingerprint
from consumers.sales.outcome_writer import TASK_AT_OUTCOME
from contracts.envelope import Envelope
from contracts.events import AuvoTask, AuvoTaskStatusReached, parse_payload
from contracts.store_keys import JOB_ORDER, QUOTE_ORDER
from infra.bus.topology import TO_BLING_ORDERS
from infra.errors import ContractViolation
from infra.store import StateFacts, StateReads, Store

NO_ITEMS = "skipped_no_items"


class AuvoCustomers(Protocol):
    def get_customer(self, customer_id: int | str) -> dict[str, Any]: ...


class AuvoQuotations(Protocol):
    def iter_quotations(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...


class AuvoTaskToBlingOrder(HandlerBase):
    consumer = TO_BLING_ORDERS.flow

    def __init__(
        self,
        store: Store,
        bling: BlingSalesDocuments,
        auvo: AuvoCustomers,
        contacts: AuvoCustomerToBlingContact,
        catalog: BlingCatalog,
        *,
        quotations: AuvoQuotations | None = None,
        **kwargs: Any,
    ) -> None:
        """`quotations` is given when quotes become pedidos too: a new job pedido first adopts the
        pedido its quotation may already have (README: "Tasks and quotes")."""
        super().__init__(store, **kwargs)
        self.auvo = auvo
        self.quotations = quotations
        self.contacts = contacts
        self.catalog = catalog
        self.orders = SalesDocumentWriter(store, bling, self.consumer)

    def lock_key(self, envelope: Envelope) -> str:
        return job_lock_key(envelope.tenant, "task", envelope.entity_id)

    def state_reads(self, envelope: Envelope) -> StateReads | None:
        """Everything `apply` reads of the store, in the event's one state read: the echo mark, the
        contato's link, the produtos' mappings and links, the pedido's deletion mark, link,
        fingerprint and write intent (issue 20: at most 4 store round trips per event)."""
        try:
            task = parse_payload(envelope, AuvoTaskStatusReached).task
        except ContractViolation:
            return None  # `apply` raises it, after the processed check
        task_id = str(task.taskID)
        return order_reads(JOB_ORDER, task_id).merge(
            StateReads(
                links=((CUSTOMER, str(task.customerId)),) if task.customerId else (),
                fingerprints=(("auvo", TASK_AT_OUTCOME, task_id),),
                products=product_reads(document_from_task(task).lines),
            )
        )

    def apply(self, envelope: Envelope) -> Outcome:
        task = parse_payload(envelope, AuvoTaskStatusReached).task
        tenant = envelope.tenant
        task_id = str(task.taskID)
        state = self.known_state(tenant, envelope.entity_id)
        # trusted for the event: the pedido's rows change only under the job's lock, held here; the
        # contato's and produtos' links were read outside their own locks before this change, too
        facts: StateFacts | None = state.also if state is not None else None
        if self._echo_of_outcome(tenant, task, facts):
            return Outcome(ECHO)
        doc = document_from_task(task)
        if not doc.lines:
            return Outcome(NO_ITEMS)
        if not task.customerId:
            raise ContractViolation(f"Auvo task {task.taskID} has no customer; a pedido de venda needs one")
        contact_id = self.contacts.ensure_contact(
            tenant,
            task.customerId,
            self.auvo.get_customer,
            linked=facts.links.get((CUSTOMER, str(task.customerId))) if facts else None,
        )
        product_ids = self.catalog.ensure_products(tenant, doc.lines, known=facts.products if facts else None)
        body = sales_order_body(doc, contact_id=int(contact_id), product_ids=product_ids)
        order: KnownOrder | None = known_order(facts, JOB_ORDER, task_id) if facts else None
        if (
            self.quotations is not None
            and (order.bling_id if order else self.store.bling_id_for(tenant, JOB_ORDER, task_id)) is None
            and self._adopt_quote_order(tenant, task.taskID, task.customerId)
        ):
            order = None  # linked just now: write_order reads the link it made
        return self.orders.write_order(tenant, JOB_ORDER, task_id, doc.marker, body, state=order)

    def _echo_of_outcome(self, tenant: str, task: AuvoTask, facts: StateFacts | None) -> bool:
        """The task changed only by our own outcome PATCH (its pedido's number and state): nothing to
        write back to the pedido (consumers/sales/outcome_writer.py, issue 17 item 3)."""
        key = ("auvo", TASK_AT_OUTCOME, str(task.taskID))
        at_outcome = facts.fingerprints[key] if facts else self.store.fingerprint(tenant, *key)
        return at_outcome is not None and at_outcome == task_content_fingerprint(task)

    def _adopt_quote_order(self, tenant: str, task_id: int, customer_id: int) -> bool:
        """Link the task to the pedido its quotation got before it had a task, if there is one
        (True: linked).

        The quote flow does this too when it sees the quotation's new `taskID`; doing it here as
        well closes the window where the task is integrated first (one Auvo read per new pedido).
        """
        assert self.quotations is not None
        for quote in self.quotations.iter_quotations({"customersId": [customer_id]}):
            if str(quote.get("taskID") or "") != str(task_id):
                continue
            own = self.store.bling_id_for(tenant, QUOTE_ORDER, str(quote.get("publicId")))
            if own is not None and self.store.auvo_id_for(tenant, JOB_ORDER, own) is None:
                with self.store.transaction() as conn:
                    self.store.link(conn, tenant, JOB_ORDER, str(task_id), own)
                return True
        return False
