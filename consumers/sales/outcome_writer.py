"""bling.order.outcome -> the Auvo task of the job shows its pedido's number and state.

The one writer of a task's outcome fields (`externalId`, our keywords). Decide: which pedido
the hint names (by id, or by the nota fiscal's `numeroPedidoLoja`), whether it is the pedido of
an Auvo task (id map `JOB_ORDER`; anything else is `skipped_not_ours`), and what the task must
show (`consumers.sales.outcome`); a state already shown is `unchanged`, without a request.
Apply: read the task (its own keywords are kept), note the task's content (by which the task flow
knows the task's next change for the echo of this write: noted before the PATCH, since the echo
can arrive before this event commits), `PATCH /tasks/{id}`, and what was shown (before the task's
lock is released).
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from consumers.base import UNCHANGED, UPDATED, HandlerBase, Outcome
from consumers.sales.outcome import (
    outcome_fingerprint,
    outcome_patch,
    task_content_fingerprint,
    task_id_of_store_number,
    task_keywords,
)
from consumers.sales.outcome_keywords import OutcomeKeywords
from contracts.envelope import Envelope
from contracts.events import BlingOrderOutcome, parse_payload
from contracts.order_outcomes import order_outcome
from contracts.store_keys import JOB_ORDER
from infra.bus.topology import TO_AUVO_TASK_OUTCOMES
from infra.errors import NotFound
from infra.store import Store

log = structlog.get_logger("sales.outcome")

# fingerprint entities, by Auvo task id
OUTCOME_SHOWN = "task_outcome"  # what the task shows (number, state, keyword)
TASK_AT_OUTCOME = "task_at_outcome"  # the task's content when we wrote it (echo check of the task flow)

NOT_OURS = "skipped_not_ours"
OPEN = "skipped_open"


class BlingOrders(Protocol):
    def get_sales_order(self, order_id: int) -> dict[str, Any]: ...
    def get_invoice(self, invoice_id: int) -> dict[str, Any]: ...


class AuvoTasks(Protocol):
    def get_task(self, task_id: int | str) -> dict[str, Any]: ...
    def patch_task(self, task_id: int | str, operations: list[dict[str, Any]]) -> dict[str, Any]: ...


class BlingOrderOutcomeToAuvoTask(HandlerBase):
    consumer = TO_AUVO_TASK_OUTCOMES.flow
    record = "auvo.task_outcome"

    def __init__(
        self, store: Store, bling: BlingOrders, auvo: AuvoTasks, keywords: OutcomeKeywords, **kwargs: Any
    ) -> None:
        super().__init__(store, **kwargs)
        self.bling = bling
        self.auvo = auvo
        self.keywords = keywords

    def apply(self, envelope: Envelope) -> Outcome:
        hint = parse_payload(envelope, BlingOrderOutcome)
        tenant = envelope.tenant
        found = self._job_order(tenant, hint)
        if found is None:
            return Outcome(NOT_OURS)
        task_id, order = found
        link = (JOB_ORDER, task_id, str(order["id"]))
        # the hint's record (a pedido, a nota) is locked by the base; the task is what is written
        with self.entity_lock(self.record_lock(tenant, f"task:{task_id}")):
            outcome = order_outcome(order)
            shown = self.store.fingerprint(tenant, "auvo", OUTCOME_SHOWN, task_id)
            if outcome is None and shown is None:
                return Outcome(OPEN, link=link)
            number = str(order.get("numero") or "")
            ours = self.keywords.ids()
            keyword = ours[outcome] if outcome is not None else None
            fp = outcome_fingerprint(number, outcome, keyword)
            if shown == fp:
                return Outcome(UNCHANGED, link=link)
            task = self.auvo.get_task(task_id)
            keywords = task_keywords(task.get("keyWords") or [], ours, outcome)
            # noted before the PATCH: its echo can reach the task flow before this event commits
            with self.store.transaction() as conn:
                self.store.set_fingerprint(
                    conn, tenant, "auvo", TASK_AT_OUTCOME, task_id, task_content_fingerprint(task)
                )
            self.auvo.patch_task(task_id, outcome_patch(number, keywords))
            # committed before the task's lock is let go: a hint about the same state waiting for it
            # (the nota's notification beside the pedido's) must find it shown
            with self.store.transaction() as conn:
                self.store.set_fingerprint(conn, tenant, "auvo", OUTCOME_SHOWN, task_id, fp)
            log.info(
                "job outcome shown on the Auvo task",
                event_id=envelope.event_id,
                task_id=task_id,
                order_id=link[2],
                outcome=outcome.value if outcome else None,
            )
            return Outcome(UPDATED, link=link)

    def _job_order(self, tenant: str, hint: BlingOrderOutcome) -> tuple[str, dict[str, Any]] | None:
        """(task id, the pedido read now) for a hint about a job's pedido; None if not one of ours."""
        if hint.order_id is not None:
            order_id = str(hint.order_id)
            task_id = self.store.auvo_id_for(tenant, JOB_ORDER, order_id)
        else:
            assert hint.invoice_id is not None
            store_number = hint.store_number
            if store_number is None:
                try:
                    store_number = str(self.bling.get_invoice(hint.invoice_id).get("numeroPedidoLoja") or "")
                except NotFound:
                    return None
            task_id = task_id_of_store_number(store_number)
            order_id = self.store.bling_id_for(tenant, JOB_ORDER, task_id) if task_id else None
        if task_id is None or order_id is None:
            return None
        try:
            return task_id, self.bling.get_sales_order(int(order_id))
        except NotFound:
            return None
