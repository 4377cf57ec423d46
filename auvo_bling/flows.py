"""The flows, declared once: what each one consumes, with which handler, fed by which poller, when.

A flow's identity (stable id, queue, event type) is data in `infra.bus.topology` (`WorkQueue`),
where the bus and the store's keys read it; what it *does* is here, in one table that the wiring
(`App.handlers`, `App.pollers`), `status`, the demo and the definitions file follow. Adding a flow
is one row here and one `WorkQueue`; nothing else lists the flows.

A poller belongs to the flow it feeds, with its own switch: the Auvo customers poller also runs in
`bling_to_auvo`, where it publishes nothing and only keeps the index that lets a contato from Bling
find its Auvo customer before one is created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consumers.base import Handler
from consumers.catalog.auvo_catalog_writer import BlingProdutoToAuvoItem
from consumers.customers.auvo_customer_writer import BlingContactToAuvoCustomer
from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from consumers.payables.payable_writer import AuvoExpenseToBlingPayable
from consumers.sales.catalog import BlingCatalog
from consumers.sales.outcome_keywords import OutcomeKeywords, configured_keywords
from consumers.sales.outcome_writer import BlingOrderOutcomeToAuvoTask
from consumers.sales.quote_writer import AuvoQuoteToBling
from consumers.sales.task_writer import AuvoTaskToBlingOrder
from contracts.options import Direction
from infra.bus.publisher import Publisher
from infra.bus.topology import (
    ALL_WORK_QUEUES,
    TO_AUVO_CATALOG,
    TO_AUVO_CUSTOMERS,
    TO_AUVO_TASK_OUTCOMES,
    TO_BLING_CONTACTS,
    TO_BLING_ORDERS,
    TO_BLING_PAYABLES,
    TO_BLING_PROPOSALS,
    WorkQueue,
)
from infra.settings import Settings
from producers.auvo_customers import AuvoCustomerPoller
from producers.auvo_expenses import AuvoExpensePoller
from producers.auvo_quotes import AuvoQuotePoller
from producers.auvo_tasks import AuvoTaskPoller
from producers.bling_catalog import BlingCatalogPoller
from producers.bling_contacts import BlingContactPoller
from producers.bling_order_outcomes import BlingOrderOutcomePoller
from producers.polling import Poller
from producers.task_selection import QuoteRules, TaskRules

if TYPE_CHECKING:
    from auvo_bling.wiring import App


@dataclass(frozen=True)
class Flow:
    queue: WorkQueue
    enabled: Callable[[Settings], bool]  # does this deployment consume it?
    handler: Callable[[App], Handler]
    poller: Callable[[App, Publisher], Poller]
    polls: Callable[[Settings], bool]  # does its poller run? (usually: when the flow is enabled)

    @property
    def id(self) -> str:
        return self.queue.flow


def _to_bling(settings: Settings) -> bool:
    return settings.customers.direction in (Direction.auvo_to_bling, Direction.both)


def _to_auvo(settings: Settings) -> bool:
    return settings.customers.direction in (Direction.bling_to_auvo, Direction.both)


def _both(app: App) -> bool:
    """Only in `both` can a customer change on both sides: then each writer resolves conflicts."""
    return app.direction is Direction.both


def _contatos(app: App) -> AuvoCustomerToBlingContact:
    return AuvoCustomerToBlingContact(app.store, app.bling, auvo=app.auvo if _both(app) else None)


def _customers(app: App) -> BlingContactToAuvoCustomer:
    return BlingContactToAuvoCustomer(app.store, app.auvo, bling=app.bling if _both(app) else None)


def _catalog(app: App) -> BlingCatalog:
    """The one produto writer both sales flows share (matching first, then create or hold)."""
    return BlingCatalog(app.store, app.bling, auvo=app.auvo, unmatched=app.settings.catalog.unmatched)


def _orders(app: App) -> AuvoTaskToBlingOrder:
    quotes = app.settings.quotes
    quotes_as_orders = quotes.enabled and quotes.target == "pedido_de_venda"
    return AuvoTaskToBlingOrder(
        app.store,
        app.bling,
        app.auvo,
        # a pedido needs its contato whatever the customer direction is: the contatos writer
        AuvoCustomerToBlingContact(app.store, app.bling),
        _catalog(app),
        quotations=app.auvo if quotes_as_orders else None,
    )


def _proposals(app: App) -> AuvoQuoteToBling:
    return AuvoQuoteToBling(
        app.store,
        app.bling,
        app.auvo,
        AuvoCustomerToBlingContact(app.store, app.bling),
        _catalog(app),
        target=app.settings.quotes.target,
    )


def _payables(app: App) -> AuvoExpenseToBlingPayable:
    return AuvoExpenseToBlingPayable(app.store, app.bling)


def _auvo_customers_poller(app: App, publisher: Publisher) -> Poller:
    return AuvoCustomerPoller(
        app.auvo,
        publisher,
        app.store,
        tenant=app.tenant,
        overlap_seconds=app.settings.poll.overlap_seconds,
        publish=_to_bling(app.settings),
    )


def _bling_contacts_poller(app: App, publisher: Publisher) -> Poller:
    overlap = app.settings.poll.overlap_seconds
    return BlingContactPoller(app.bling, publisher, app.store, tenant=app.tenant, overlap_seconds=overlap)


def _tasks_poller(app: App, publisher: Publisher) -> Poller:
    tasks = app.settings.tasks
    return AuvoTaskPoller(
        app.auvo,
        publisher,
        app.store,
        TaskRules.from_settings(tasks),
        tenant=app.tenant,
        overlap_seconds=app.settings.poll.overlap_seconds,
        lookback_days=tasks.lookback_days,
        lookahead_days=tasks.lookahead_days,
        window_days=tasks.window_days,
    )


def _quotes_poller(app: App, publisher: Publisher) -> Poller:
    quotes = app.settings.quotes
    rules = QuoteRules.from_settings(quotes)
    return AuvoQuotePoller(
        app.auvo, publisher, rules, tenant=app.tenant, lookback_days=quotes.lookback_days, store=app.store
    )


def _expenses_poller(app: App, publisher: Publisher) -> Poller:
    return AuvoExpensePoller(
        app.auvo, publisher, tenant=app.tenant, lookback_days=app.settings.expenses.lookback_days
    )


# --- the catalogue, Bling -> Auvo (issue 17, item 2) ----------------------------------------------


def _auvo_catalog(app: App) -> BlingProdutoToAuvoItem:
    return BlingProdutoToAuvoItem(app.store, app.auvo)


def _bling_catalog_poller(app: App, publisher: Publisher) -> Poller:
    catalog, overlap = app.settings.catalog, app.settings.poll.overlap_seconds
    return BlingCatalogPoller(
        app.bling,
        publisher,
        app.store,
        tenant=app.tenant,
        overlap_seconds=overlap,
        sweep_seconds=catalog.stock_sweep_seconds,
    )


def _catalog_to_auvo(settings: Settings) -> bool:
    return settings.catalog.bling_to_auvo


def _tasks_on(settings: Settings) -> bool:
    return settings.tasks.enabled


def _quotes_on(settings: Settings) -> bool:
    return settings.quotes.enabled


def _expenses_on(settings: Settings) -> bool:
    return settings.expenses.enabled


def _always(_: Settings) -> bool:
    return True


# --- the job's outcome back on the Auvo task (issue 17, item 3) ------------------------------------


def outcome_on(settings: Settings) -> bool:
    """Only a task's pedido has an outcome to show: the flow needs the task flow on."""
    return settings.tasks.enabled and settings.tasks.outcome


def _outcomes(app: App) -> BlingOrderOutcomeToAuvoTask:
    keywords = OutcomeKeywords(app.auvo, configured_keywords(app.settings.tasks))
    return BlingOrderOutcomeToAuvoTask(app.store, app.bling, app.auvo, keywords)


def _outcomes_poller(app: App, publisher: Publisher) -> Poller:
    overlap = app.settings.poll.overlap_seconds
    return BlingOrderOutcomePoller(
        app.bling, publisher, app.store, tenant=app.tenant, overlap_seconds=overlap
    )


FLOWS: tuple[Flow, ...] = (
    Flow(TO_BLING_CONTACTS, _to_bling, _contatos, _auvo_customers_poller, polls=_always),
    Flow(TO_AUVO_CUSTOMERS, _to_auvo, _customers, _bling_contacts_poller, polls=_to_auvo),
    Flow(TO_BLING_ORDERS, _tasks_on, _orders, _tasks_poller, polls=_tasks_on),
    Flow(TO_BLING_PROPOSALS, _quotes_on, _proposals, _quotes_poller, polls=_quotes_on),
    Flow(TO_BLING_PAYABLES, _expenses_on, _payables, _expenses_poller, polls=_expenses_on),
    Flow(TO_AUVO_CATALOG, _catalog_to_auvo, _auvo_catalog, _bling_catalog_poller, polls=_catalog_to_auvo),

    Flow(TO_AUVO_TASK_OUTCOMES, outcome_on, _outcomes, _outcomes_poller, polls=outcome_on),
)
assert tuple(f.queue for f in FLOWS) == ALL_WORK_QUEUES, "every WorkQueue has exactly one flow, in order"


def enabled(settings: Settings) -> list[Flow]:
    return [flow for flow in FLOWS if flow.enabled(settings)]
