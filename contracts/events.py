"""One model per event type, plus the constructors producers use.

Payloads carry a snapshot of the source record as the source API returned it (only the fields
we use are typed; unknown fields are ignored so a provider adding a field never breaks us). The
snapshot travels with the event so a consumer does not need to read the source again, and the
source version decides staleness.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.envelope import Envelope, MalformedMessage, event_id_for, utcnow

AUVO_CUSTOMER_CHANGED = "auvo.customer.changed"
BLING_CONTACT_CHANGED = "bling.contact.changed"
AUVO_TASK_STATUS_REACHED = "auvo.task.status_reached"
AUVO_QUOTE_STATUS_REACHED = "auvo.quote.status_reached"


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


class AuvoTaskStatusReached(BaseModel):
    """Built out by the tasks issue; the contract exists now so the topology is complete."""

    task_id: int
    status: str
    task: dict[str, Any] = Field(default_factory=dict)


class AuvoQuoteStatusReached(BaseModel):
    quote_id: int
    stage: str
    quote: dict[str, Any] = Field(default_factory=dict)


M = TypeVar("M", bound=BaseModel)

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    AUVO_CUSTOMER_CHANGED: AuvoCustomerChanged,
    BLING_CONTACT_CHANGED: BlingContactChanged,
    AUVO_TASK_STATUS_REACHED: AuvoTaskStatusReached,
    AUVO_QUOTE_STATUS_REACHED: AuvoQuoteStatusReached,
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
