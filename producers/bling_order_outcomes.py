"""Pedidos de venda of Auvo tasks attended, cancelled or invoiced in Bling -> `bling.order.outcome`.

The safety net of Bling's order and invoice webhooks (producers/webhooks/bling_order_outcomes.py).
Read: one `GET /pedidos/vendas` per pass, narrowed to pedidos changed in [cursor - overlap, now]
(`dataAlteracaoInicial`/`dataAlteracaoFinal`) in a closing situação (`idsSituacoes[]` 9 atendido,
12 cancelado: Bling marks an invoiced pedido atendido too). Select: only pedidos of an Auvo task
(id map `JOB_ORDER`), read in full because the list does not show the nota fiscal; a pedido whose
final state was already read (cancelled, or invoiced) is not read again while it stays in the
overlap. Publish with confirms (event id = pedido and state: the webhook of the same state is the
same event), then advance the cursor. Idle, a pass costs Bling one request from the poll share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.events import bling_order_outcome
from contracts.order_outcomes import CLOSING_SITUATIONS, FINAL_OUTCOMES, order_outcome, outcome_state
from contracts.store_keys import JOB_ORDER
from infra.bling.wire import to_bling_datetime
from infra.errors import NotFound
from infra.store import Store
from producers.polling import EventPublisher, RecentlyPublished, publish_new, quiet_since

CURSOR = "bling.orders.outcome_window_end"
FIRST_PASS = timedelta(days=1)  # without a cursor: the outcomes of the last day


class BlingOrderSource(Protocol):
    def iter_sales_orders(self, **filters: Any) -> Iterator[dict[str, Any]]: ...
    def get_sales_order(self, order_id: int) -> dict[str, Any]: ...


class BlingOrderOutcomePoller:
    name = "bling.order_outcomes"
    pushed = True  # Bling notifies pedidos and notas fiscais by webhook where configured

    def __init__(
        self,
        bling: BlingOrderSource,
        publisher: EventPublisher,
        store: Store,
        *,
        tenant: str = "default",
        overlap_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bling = bling
        self.publisher = publisher
        self.store = store
        self.tenant = tenant
        self.overlap = timedelta(seconds=overlap_seconds)
        self.clock = clock
        self.recent = RecentlyPublished()
        self.last_pass_started: datetime | None = None
        self.final: dict[str, int] = {}  # pedido id -> situação at which its final state was read
        self.full_reads = 0  # GET /pedidos/vendas/{id} sent (bench and tests read it)

    def poll_once(self) -> int:
        started = self.clock().replace(microsecond=0)
        cursor = self.store.cursor(self.tenant, CURSOR)
        since = quiet_since(
            datetime.fromisoformat(cursor) if cursor else None, self.overlap, self.last_pass_started
        )
        filters = {
            "dataAlteracaoInicial": to_bling_datetime(since if since is not None else started - FIRST_PASS),
            "dataAlteracaoFinal": to_bling_datetime(started),
            "idsSituacoes[]": list(CLOSING_SITUATIONS),
        }
        published = 0
        for item in self.bling.iter_sales_orders(**filters):
            order_id = str(item["id"])
            if self.store.auvo_id_for(self.tenant, JOB_ORDER, order_id) is None:
                continue
            situacao = (item.get("situacao") or {}).get("id")
            if self.final.get(order_id) == situacao:
                continue
            try:
                self.full_reads += 1
                order = self.bling.get_sales_order(int(order_id))
            except NotFound:
                continue
            if order_outcome(order) in FINAL_OUTCOMES:
                self.final[order_id] = situacao
            envelope = bling_order_outcome(
                order_id=int(order_id),
                state=outcome_state(order),
                observed_at=started,
                store_number=str(order.get("numeroLoja") or "") or None,
                situacao_id=situacao,
                tenant=self.tenant,
            )
            published += publish_new(self.publisher, self.recent, envelope)
        self.store.set_cursor(self.tenant, CURSOR, started.isoformat())
        self.last_pass_started = started
        return published
