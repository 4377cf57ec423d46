"""Bling's pedido and nota fiscal notifications -> `bling.order.outcome` events (issue 17, item 3).

`order.created`/`order.updated` of a pedido of an Auvo task (id map `JOB_ORDER`) whose data shows a
closing situação (9 atendido, 12 cancelado) or a nota fiscal, or no situação at all (read
tolerantly: the consumer reads the pedido anyway); `invoice.*` / `consumer_invoice.*` (NF-e,
NFC-e) created or updated while pending no more (authorized, DANFE issued, registered), with the
nota's `numeroPedidoLoja` when the data carries it, so the consumer knows a nota of another sale
without a request. The event ids are the poller's (pedido and state), so a webhook and the
safety-net poll of the same state are one event. Deleted records are the id map keeper's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import Envelope
from contracts.events import bling_order_outcome
from contracts.order_outcomes import CLOSING_SITUATIONS, outcome_state
from contracts.store_keys import JOB_ORDER
from infra.store import Store
from producers.webhooks.bling_notifications import DELETED, RESOURCES, BlingNotification

ORDER_RESOURCES = frozenset(name for name, (_, entities) in RESOURCES.items() if JOB_ORDER in entities)
INVOICE_RESOURCES = frozenset({"invoice", "nfe", "nota_fiscal", "consumer_invoice", "nfce"})
# NotasFiscaisDadosBaseDTO.situacao: 5 autorizada, 6 emitida DANFE, 7 registrada
ISSUED_INVOICE_SITUATIONS = frozenset({5, 6, 7})


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class BlingOrderOutcomeEvents:
    store: Store
    tenant: str = "default"

    def events(self, notification: BlingNotification, now: datetime | None = None) -> list[Envelope]:
        if notification.action in DELETED:
            return []
        observed = now or datetime.now(UTC)
        data = notification.data
        if notification.resource in ORDER_RESOURCES:
            return self._order(notification, data, observed)
        if notification.resource in INVOICE_RESOURCES:
            return self._invoice(notification, data, observed)
        return []

    def _order(
        self, notification: BlingNotification, data: dict[str, Any], observed: datetime
    ) -> list[Envelope]:
        if self.store.auvo_id_for(self.tenant, JOB_ORDER, notification.record_id) is None:
            return []
        situacao = data.get("situacao")
        situacao_id = _int(situacao.get("id")) if isinstance(situacao, dict) else None
        nota = data.get("notaFiscal")
        invoiced = isinstance(nota, dict) and bool(nota.get("id"))
        if situacao is not None and situacao_id not in CLOSING_SITUATIONS and not invoiced:
            return []  # still open (our own writes notify too)
        order_id = _int(notification.record_id)
        if order_id is None:
            return []
        return [
            bling_order_outcome(
                order_id=order_id,
                state=outcome_state(data),
                observed_at=observed,
                store_number=str(data.get("numeroLoja") or "") or None,
                situacao_id=situacao_id,
                tenant=self.tenant,
            )
        ]

    def _invoice(
        self, notification: BlingNotification, data: dict[str, Any], observed: datetime
    ) -> list[Envelope]:
        situacao_id = _int(data.get("situacao"))
        if situacao_id is not None and situacao_id not in ISSUED_INVOICE_SITUATIONS:
            return []
        invoice_id = _int(notification.record_id)
        if invoice_id is None:
            return []
        store_number = data.get("numeroPedidoLoja")
        return [
            bling_order_outcome(
                invoice_id=invoice_id,
                state=f"nfe_situacao={situacao_id}",
                observed_at=observed,
                store_number=str(store_number) if store_number is not None else None,
                tenant=self.tenant,
            )
        ]
