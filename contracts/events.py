"""One model per event type, plus the constructors producers use.

Payloads carry a snapshot of the source record as the source API returned it (only the fields
we use are typed; unknown fields are ignored so a provider adding a field never breaks us). The
snapshot travels with the event so a consumer does not need to read the source again, and the
source version decides staleness.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.envelope import Envelope, MalformedMessage, event_id_for, utcnow

AUVO_CUSTOMER_CHANGED = "auvo.customer.changed"
BLING_CONTACT_CHANGED = "bling.contact.changed"
AUVO_TASK_STATUS_REACHED = "auvo.task.status_reached"
AUVO_QUOTE_STATUS_REACHED = "auvo.quote.status_reached"
AUVO_EXPENSE_RECORDED = "auvo.expense.recorded"
# issue 17 item 2: the company's Bling catalogue -> Auvo products and services
BLING_PRODUCT_CHANGED = "bling.product.changed"

BLING_ORDER_OUTCOME = "bling.order.outcome"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AuvoCustomer(_Record):
    """An Auvo customer as `GET /customers` returns it (blueprint "Customer")."""

    id: int
    externalId: str | None = None
    description: str = ""
    cpfCnpj: str | None = None
    phoneNumber: list[str] = Field(default_factory=list)
    email: list[str] = Field(default_factory=list)
    note: str | None = None
    address: str | None = None
    adressComplement: str | None = None
    active: bool | None = None
    groupsId: list[int] = Field(default_factory=list)
    dateLastUpdate: str | None = None
    creationDate: str | None = None


class BlingAddress(_Record):
    endereco: str | None = None
    numero: str | None = None
    complemento: str | None = None
    bairro: str | None = None
    cep: str | None = None
    municipio: str | None = None
    uf: str | None = None


class BlingAddresses(_Record):
    geral: BlingAddress | None = None
    cobranca: BlingAddress | None = None


class BlingContact(_Record):
    """A Bling contato as `GET /contatos/{id}` returns it (ContatosDadosBaseDTO + ContatosDadosDTO)."""

    id: int
    nome: str = ""
    codigo: str | None = None
    situacao: str | None = None
    numeroDocumento: str | None = None
    telefone: str | None = None
    celular: str | None = None
    fantasia: str | None = None
    tipo: str | None = None
    email: str | None = None
    endereco: BlingAddresses | None = None


class AuvoCustomerChanged(BaseModel):
    customer: AuvoCustomer


class BlingContactChanged(BaseModel):
    contact: BlingContact
    observed_at: datetime


Number = float | int | str | None  # Auvo sends money as 12.5, "12.50" or "12,50" depending on the resource


class AuvoDiscount(_Record):
    """Auvo's discount object: `type` "Valor"/"Monetario" is money, a percentage type is a percentage."""

    value: Number = 0
    type: str | None = None


class AuvoTaskProduct(_Record):
    """One line of a task's `products[]` (blueprint "Task")."""

    productId: str = ""
    code: str | int | None = None
    name: str | None = None
    description: str | None = None
    quantity: Number = 0
    unitaryValue: Number = 0
    totalValue: Number = 0
    discount: AuvoDiscount | None = None


class AuvoTaskService(_Record):
    """One line of a task's `services[]`."""

    id: str = ""
    name: str | None = None
    quantity: Number = 0
    unitaryValue: Number = 0
    totalValue: Number = 0
    discount: AuvoDiscount | None = None


class AuvoTaskAdditionalCost(_Record):
    additionalCostId: str | None = None
    code: str | int | None = None
    name: str | None = None
    unitaryValue: Number = 0


class AuvoTaskSummary(_Record):
    totalProducts: Number = 0
    totalServices: Number = 0
    totalAdditionalCosts: Number = 0
    totalValue: Number = 0
    discount: AuvoDiscount | None = None


class AuvoTask(_Record):
    """An Auvo task as `GET /tasks` returns it (blueprint "Task"); only the fields we use are typed.

    Status fields: `finished` (bool), `checkOut` (bool: the technician checked out in the app) and
    `taskStatus` (1 Opened .. 5 Finished, 6 Paused). `dateLastUpdate` is the version.
    """

    taskID: int
    externalId: str | None = None
    customerId: int = 0
    customerDescription: str | None = None
    taskType: int = 0
    taskTypeDescription: str | None = None
    taskDate: str | None = None
    creationDate: str | None = None
    orientation: str | None = None
    finished: bool = False
    checkIn: bool = False
    checkOut: bool = False
    checkOutDate: str | None = None
    taskStatus: int | str | None = None
    taskUrl: str | None = None
    userToName: str | None = None
    dateLastUpdate: str | None = None
    products: list[AuvoTaskProduct] = Field(default_factory=list)
    services: list[AuvoTaskService] = Field(default_factory=list)
    additionalCosts: list[AuvoTaskAdditionalCost] = Field(default_factory=list)
    summary: AuvoTaskSummary | None = None

    @field_validator("products", "services", "additionalCosts", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class AuvoQuoteProduct(_Record):
    """One line of a quotation's `products[]`: the blueprint spells them `amout` and `UnitaryValue`."""

    productId: str | int
    amout: Number = 0
    UnitaryValue: Number = 0


class AuvoQuoteCost(_Record):
    id: int | None = None
    costId: int | None = None
    description: str | None = None
    value: Number = 0


class AuvoQuoteStage(_Record):
    id: int | None = None
    description: str | None = None
    isCancelled: bool = False
    editAllowed: bool = True


class AuvoQuoteSummary(_Record):
    totalProducts: Number = 0
    totalServices: Number = 0
    totalAdditionalCosts: Number = 0
    netTotalValue: Number = 0
    grossTotalValue: Number = 0
    discount: AuvoDiscount | None = None


class AuvoQuote(_Record):
    """An Auvo quotation (orçamento) as `GET /quotations` returns it (blueprint "Quotation").

    It has no modification stamp; `taskID` (0 when none) links it to the task that executes it.
    """

    publicId: int
    customerId: int = 0
    customerName: str | None = None
    taskID: int | None = 0
    descount: Number = 0
    observations: str | None = None
    registerDate: str | None = None
    requestDate: str | None = None
    aditionalCosts: list[AuvoQuoteCost] = Field(default_factory=list)
    products: list[AuvoQuoteProduct] = Field(default_factory=list)
    summary: AuvoQuoteSummary | None = None
    CurrentStage: AuvoQuoteStage | None = None

    @field_validator("products", "aditionalCosts", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class AuvoTaskStatusReached(BaseModel):
    """An Auvo task newly matching every task rule of the settings (or changed after it did).

    `status` is the guide's classification of the task when it was seen: `not_finished`,
    `finished_automatically` or `finished_manually` (see producers.task_selection).
    """

    task_id: int
    status: str
    task: AuvoTask


class AuvoQuoteStatusReached(BaseModel):
    """An Auvo quotation in the configured stage (`CurrentStage`), as first seen or changed since."""

    quote_id: int
    stage: str
    quote: AuvoQuote
    observed_at: datetime


class AuvoExpense(_Record):
    """An Auvo expense as `GET /expenses` returns it (blueprint "Expense")."""

    id: int
    description: str = ""
    userToId: int | None = None
    userToName: str = ""
    typeId: int | None = None
    typeName: str = ""
    date: str | None = None
    amount: float = 0.0


class AuvoExpenseRecorded(BaseModel):
    """An expense a technician recorded in Auvo (optional flow: it becomes a conta a pagar)."""

    expense: AuvoExpense
    observed_at: datetime


# --- the catalogue, Bling -> Auvo (issue 17, item 2) ----------------------------------------------


class BlingStock(_Record):
    """A produto's `estoque` as `GET /produtos` lists it (EstoqueGetAllResponseDTO)."""

    saldoVirtualTotal: float | None = None


class BlingProduto(_Record):
    """A Bling produto as `GET /produtos` lists it (ProdutosDadosBaseDTO): the list already carries
    price, cost and stock, so one request reads a page of 100 in full."""

    id: int
    nome: str = ""
    codigo: str | None = None
    preco: float | None = None
    precoCusto: float | None = None
    tipo: str | None = None  # P produto, S / N serviço
    situacao: str | None = None  # A ativo, I inativo
    formato: str | None = None
    estoque: BlingStock | None = None


class BlingProductChanged(BaseModel):
    """A produto (or its stock) as observed at `observed_at`, by the poller or a webhook."""

    produto: BlingProduto
    observed_at: datetime


def observation_stamp(observed_at: datetime) -> str:
    """A fixed-width UTC stamp (microseconds always present), so versions compare as strings."""
    return observed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def bling_product_changed(
    record: dict[str, Any], *, observed_at: datetime, tenant: str = "default"
) -> Envelope:
    """The event for one produto snapshot.

    A produto's stock has no change stamp, and a stock that goes 10 -> 9 -> 10 must reach Auvo
    the third time too: so the id covers the content *and* the observation, and the consumer,
    not the id, drops a repeat (its fingerprint of what it last wrote, a store read). The
    observation time is the version: an older snapshot arriving late is stale.
    """
    produto = BlingProduto.model_validate(record)
    entity_id = str(produto.id)
    stamp = observation_stamp(observed_at)
    content = hashlib.sha256(produto.model_dump_json().encode()).hexdigest()[:16]
    return Envelope(
        event_id=event_id_for("bling", f"produto:{entity_id}", f"{stamp}|{content}", "changed"),
        type=BLING_PRODUCT_CHANGED,
        occurred_at=utcnow(),
        source="bling",
        tenant=tenant,
        entity_id=entity_id,
        entity_version=stamp,
        payload=BlingProductChanged(produto=produto, observed_at=observed_at).model_dump(mode="json"),
    )


class BlingOrderOutcome(BaseModel):
    """Something happened to a pedido de venda in Bling that may be the job's outcome: its situação
    changed (atendido, cancelado) or a nota fiscal was issued for it (issue 17, item 3).

    A hint, not the state: webhooks arrive late and out of order, and an invoice notification may
    not name its pedido, so the consumer reads the pedido (and the nota) and shows what Bling says
    now. `order_id` or `invoice_id` is set; `store_number` is the pedido's `numeroLoja` (the nota's
    `numeroPedidoLoja`) when the source told it.
    """

    order_id: int | None = None
    invoice_id: int | None = None
    store_number: str | None = None
    situacao_id: int | None = None
    observed_at: datetime


M = TypeVar("M", bound=BaseModel)

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    AUVO_CUSTOMER_CHANGED: AuvoCustomerChanged,
    BLING_CONTACT_CHANGED: BlingContactChanged,
    AUVO_TASK_STATUS_REACHED: AuvoTaskStatusReached,
    AUVO_QUOTE_STATUS_REACHED: AuvoQuoteStatusReached,
    AUVO_EXPENSE_RECORDED: AuvoExpenseRecorded,
    BLING_PRODUCT_CHANGED: BlingProductChanged,

    BLING_ORDER_OUTCOME: BlingOrderOutcome,
}


def parse_payload(envelope: Envelope, model: type[M]) -> M:
    """Validate the payload against the model its type promises; a mismatch is permanent."""
    expected = PAYLOAD_MODELS.get(envelope.type)
    if expected is not model:
        raise MalformedMessage(f"event type {envelope.type!r} does not carry a {model.__name__}")
    try:
        return model.model_validate(envelope.payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise MalformedMessage(f"invalid {envelope.type} payload at {loc}: {first['msg']}") from None


def auvo_customer_changed(record: dict[str, Any], *, tenant: str = "default") -> Envelope:
    """The event for one Auvo customer snapshot; its version is Auvo's `dateLastUpdate`."""
    customer = AuvoCustomer.model_validate(record)
    version = customer.dateLastUpdate or ""
    entity_id = str(customer.id)
    return Envelope(
        event_id=event_id_for("auvo", f"customer:{entity_id}", version, "changed"),
        type=AUVO_CUSTOMER_CHANGED,
        occurred_at=utcnow(),
        source="auvo",
        tenant=tenant,
        entity_id=entity_id,
        entity_version=version,
        payload=AuvoCustomerChanged(customer=customer).model_dump(mode="json", exclude_none=False),
    )


def bling_contact_changed(
    record: dict[str, Any], *, observed_at: datetime, content_version: str, tenant: str = "default"
) -> Envelope:
    """The event for one Bling contato snapshot.

    Bling's contato carries no modification stamp, so the content fingerprint is the identity of
    the change (a re-poll of the same content gives the same event id) and the time we observed
    it is the version used for staleness.
    """
    contact = BlingContact.model_validate(record)
    entity_id = str(contact.id)
    return Envelope(
        event_id=event_id_for("bling", f"contact:{entity_id}", content_version, "changed"),
        type=BLING_CONTACT_CHANGED,
        occurred_at=utcnow(),
        source="bling",
        tenant=tenant,
        entity_id=entity_id,
        entity_version=observed_at.isoformat(),
        payload=BlingContactChanged(contact=contact, observed_at=observed_at).model_dump(mode="json"),
    )


def auvo_task_status_reached(record: dict[str, Any], status: str, *, tenant: str = "default") -> Envelope:
    """The event for one Auvo task snapshot that matches the task rules.

    Version = the task's `dateLastUpdate`, so every later change of the task (values added, items
    changed, finished) is a new event with a new id, and a re-poll of the same state is the same id.
    The id also covers the snapshot's content: Auvo's stamp has one-second resolution, and a second
    change within the same second must not be mistaken for a re-poll of the first.
    """
    task = AuvoTask.model_validate(record)
    version = task.dateLastUpdate or ""
    entity_id = str(task.taskID)
    content = hashlib.sha256(task.model_dump_json().encode()).hexdigest()[:16]
    return Envelope(
        event_id=event_id_for("auvo", f"task:{entity_id}", f"{version}|{content}", status),
        type=AUVO_TASK_STATUS_REACHED,
        occurred_at=utcnow(),
        source="auvo",
        tenant=tenant,
        entity_id=entity_id,
        entity_version=version,
        payload=AuvoTaskStatusReached(task_id=task.taskID, status=status, task=task).model_dump(mode="json"),
    )


def auvo_quote_status_reached(
    record: dict[str, Any], *, observed_at: datetime, content_version: str, tenant: str = "default"
) -> Envelope:
    """The event for one Auvo quotation snapshot in the configured stage.

    Auvo's quotation carries no modification stamp, so (like Bling contatos) the content
    fingerprint is the identity of the change and the time we observed it is the version.
    """
    quote = AuvoQuote.model_validate(record)
    stage = (quote.CurrentStage.description if quote.CurrentStage else None) or ""
    entity_id = str(quote.publicId)
    return Envelope(
        event_id=event_id_for("auvo", f"quote:{entity_id}", content_version, stage),
        type=AUVO_QUOTE_STATUS_REACHED,
        occurred_at=utcnow(),
        source="auvo",
        tenant=tenant,
        entity_id=entity_id,
        entity_version=observed_at.isoformat(),
        payload=AuvoQuoteStatusReached(
            quote_id=quote.publicId, stage=stage, quote=quote, observed_at=observed_at
        ).model_dump(mode="json"),
    )


def auvo_expense_recorded(
    record: dict[str, Any], *, observed_at: datetime, tenant: str = "default"
) -> Envelope:
    """The event for one Auvo expense snapshot; expenses carry no change stamp, so the content
    hash is the identity of the change and the time we observed it is the version."""
    expense = AuvoExpense.model_validate(record)
    content = hashlib.sha256(expense.model_dump_json().encode()).hexdigest()[:16]
    entity_id = str(expense.id)
    return Envelope(
        event_id=event_id_for("auvo", f"expense:{entity_id}", content, "recorded"),
        type=AUVO_EXPENSE_RECORDED,
        occurred_at=utcnow(),
        source="auvo",
        tenant=tenant,
        entity_id=entity_id,
        entity_version=observed_at.isoformat(),
        payload=AuvoExpenseRecorded(expense=expense, observed_at=observed_at).model_dump(mode="json"),
    )


def bling_order_outcome(
    *,
    order_id: int | None = None,
    invoice_id: int | None = None,
    state: str,
    observed_at: datetime,
    store_number: str | None = None,
    situacao_id: int | None = None,
    tenant: str = "default",
) -> Envelope:
    """The event for one pedido (or nota fiscal) in one observed state.

    The id is (record, state): the poller and the webhook seeing the same situação or the same
    nota make one event, and a new state is a new one. No version: the consumer reads the pedido
    itself, so an older hint arriving late cannot undo a newer state.
    """
    if (order_id is None) == (invoice_id is None):
        raise ValueError("an order outcome names exactly one of order_id, invoice_id")
    entity_id = f"pedido:{order_id}" if order_id is not None else f"nfe:{invoice_id}"
    return Envelope(
        event_id=event_id_for("bling", entity_id, state, "outcome"),
        type=BLING_ORDER_OUTCOME,
        occurred_at=utcnow(),
        source="bling",
        tenant=tenant,
        entity_id=entity_id,
        entity_version="",
        payload=BlingOrderOutcome(
            order_id=order_id,
            invoice_id=invoice_id,
            store_number=store_number,
            situacao_id=situacao_id,
            observed_at=observed_at,
        ).model_dump(mode="json"),
    )
