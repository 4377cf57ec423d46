"""auvo.expense.recorded -> a Bling conta a pagar owed to the technician (optional flow).

The technician gets a contato of their own (codigo `AUVO-USER-<id>`), found or created once; the
conta carries `AUVO-EXP-<id>` as numeroDocumento, so a crash between create and commit is found
again by listing the technician's contas of that day instead of creating a second one. An
expense changed later updates its conta while Bling still shows it open.
"""

from __future__ import annotations

from typing import Any, Protocol

from consumers.base import (
    CREATED,
    UNCHANGED,
    UPDATED,
    HandlerBase,
    Outcome,
    client_timeout,
    noted_create,
    refuse_while_create_in_doubt,
)
from consumers.payables.mapping import (
    expense_date,
    expense_marker,
    payable_body,
    technician_contact_body,
    technician_marker,
)
from contracts.envelope import Envelope
from contracts.events import AuvoExpense, AuvoExpenseRecorded, parse_payload
from infra.bus.topology import TO_BLING_PAYABLES
from infra.errors import NotFound
from infra.store import Store

EXPENSE = "expense"
TECHNICIAN = "technician"
OPEN = 1  # Bling's situacao of a conta not yet paid
SKIPPED_SETTLED = "skipped_settled"


class BlingPayables(Protocol):
    def iter_contacts(self, **filters: Any) -> Any: ...
    def create_contact(self, body: dict[str, Any]) -> int: ...
    def iter_payables(self, **filters: Any) -> Any: ...
    def get_payable(self, payable_id: int) -> dict[str, Any]: ...
    def create_payable(self, body: dict[str, Any]) -> int: ...
    def update_payable(self, payable_id: int, body: dict[str, Any]) -> None: ...


class AuvoExpenseToBlingPayable(HandlerBase):
    consumer = TO_BLING_PAYABLES.flow

    def __init__(self, store: Store, bling: BlingPayables, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self.bling = bling

    def apply(self, envelope: Envelope) -> Outcome:
        expense = parse_payload(envelope, AuvoExpenseRecorded).expense
        tenant = envelope.tenant
        contact_id = self._technician(tenant, expense)
        body = payable_body(expense, contact_id)
        existing = self._conta(tenant, expense, contact_id)
        if existing is None:
            payable_id = str(
                noted_create(
                    self.store,
                    tenant,
                    self.consumer,
                    str(expense.id),
                    lambda: self.bling.create_payable(body),
                )
            )
            result = CREATED
        else:
            payable_id = str(existing["id"])
            current = {k: existing.get(k) for k in ("vencimento", "valor", "historico")}
            if current == {k: body[k] for k in current}:
                result = UNCHANGED
            elif existing.get("situacao", OPEN) != OPEN:
                result = SKIPPED_SETTLED  # paid or cancelled in Bling: the ERP's books win
            else:
                self.bling.update_payable(int(payable_id), body)
                result = UPDATED
        return Outcome(result, link=(EXPENSE, str(expense.id), payable_id))

    def _technician(self, tenant: str, expense: AuvoExpense) -> int:
        """The technician's contato id, found by its code or created (and remembered)."""
        user = str(expense.userToId or 0)
        known = self.store.bling_id_for(tenant, TECHNICIAN, user)
        if known is not None:
            return int(known)
        marker = technician_marker(user)
        found = [
            c for c in self.bling.iter_contacts(pesquisa=marker, criterio=1) if c.get("codigo") == marker
        ]
        contact_id = (
            int(found[0]["id"]) if found else self.bling.create_contact(technician_contact_body(expense))
        )
        with self.store.transaction() as conn:
            self.store.link(conn, tenant, TECHNICIAN, user, str(contact_id))
        return contact_id

    def _conta(self, tenant: str, expense: AuvoExpense, contact_id: int) -> dict[str, Any] | None:
        known = self.store.bling_id_for(tenant, EXPENSE, str(expense.id))
        if known is not None:
            try:
                return self.bling.get_payable(int(known))
            except NotFound:
                self.store.forget_link(tenant, EXPENSE, auvo_id=str(expense.id))
                return None
        noted_at = self.store.intent_noted_at(tenant, self.consumer, str(expense.id))
        if noted_at is None:
            return None  # never tried before: nothing to find
        day = expense_date(expense)
        for item in self.bling.iter_payables(
            idContato=contact_id, dataEmissaoInicial=day, dataEmissaoFinal=day
        ):
            conta = self.bling.get_payable(int(item["id"]))
            if conta.get("numeroDocumento") == expense_marker(expense.id):
                return conta
        refuse_while_create_in_doubt(
            noted_at, client_timeout(self.bling), f"the conta of expense {expense.id}"
        )
        return None
