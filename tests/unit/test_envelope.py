"""The bus envelope and event constructors: deterministic ids, strict JSON decoding, typed payloads."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from contracts.envelope import SCHEMA_VERSION, Envelope, MalformedMessage, event_id_for
from contracts.events import (
    AUVO_CUSTOMER_CHANGED,
    AUVO_EXPENSE_RECORDED,
    AUVO_QUOTE_STATUS_REACHED,
    AUVO_TASK_STATUS_REACHED,
    BLING_CONTACT_CHANGED,
    BLING_ORDER_OUTCOME,
    BLING_PRODUCT_CHANGED,
    PAYLOAD_MODELS,
    AuvoCustomerChanged,
    AuvoExpenseRecorded,
    AuvoQuoteStatusReached,
    AuvoTaskStatusReached,
    BlingContactChanged,
    BlingOrderOutcome,
    BlingProductChanged,
    auvo_customer_changed,
    bling_contact_changed,
    parse_payload,
)

AUVO_RECORD: dict[str, Any] = {
    "id": 8123401,
    "externalId": "",
    "description": "Padaria Pão Quente Ltda",
    "cpfCnpj": "12.345.678/0001-95",
    "phoneNumber": ["(11) 3456-7890", "(11) 98765-4321"],
    "email": ["contato@paoquente.com.br"],
    "address": "Rua das Flores, 120, Centro, São Paulo - SP",
    "adressComplement": "Loja 2",
    "active": True,
    "groupsId": [3],
    "dateLastUpdate": "2024-05-10T14:22:31",
    "creationDate": "2023-01-02T09:00:00",
    "someFieldAuvoAddsLater": {"x": 1},
}

BLING_RECORD: dict[str, Any] = {
    "id": 16123456789,
    "nome": "Maria da Silva",
    "codigo": "AUVO-8123401",
    "situacao": "A",
    "numeroDocumento": "52998224725",
    "telefone": "1134567890",
    "celular": "11987654321",
    "tipo": "F",
    "email": "maria@exemplo.com.br",
    "endereco": {
        "geral": {"endereco": "Av. Paulista", "numero": "1000", "municipio": "São Paulo", "uf": "SP"}
    },
}

OBSERVED = datetime(2024, 5, 10, 15, 0, tzinfo=UTC)


def envelope(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "event_id": event_id_for("auvo", "customer:1", "v1", "changed"),
        "type": AUVO_CUSTOMER_CHANGED,
        "occurred_at": OBSERVED,
        "source": "auvo",
        "tenant": "acme",
        "entity_id": "1",
        "entity_version": "v1",
        "payload": {"customer": {"id": 1, "description": "X"}},
    }
    fields.update(overrides)
    return Envelope(**fields)


def body_dict(**overrides: Any) -> dict[str, Any]:
    data = json.loads(envelope().to_json())
    data.update(overrides)
    return data


# --- event_id_for --------------------------------------------------------------------------------

BASE_ID_ARGS = ("auvo", "customer:42", "2024-05-10T14:22:31", "changed")


def test_event_id_is_deterministic_and_a_uuid() -> None:
    """Same (source, entity, version, status) -> same id, on every call; it is a UUID5."""
    first = event_id_for(*BASE_ID_ARGS)
    assert first == event_id_for(*BASE_ID_ARGS)
    parsed = uuid.UUID(first)
    assert parsed.version == 5
    assert str(parsed) == first


def test_event_id_is_stable_across_releases() -> None:
    """The namespace is fixed, so ids of stored/processed events remain valid after upgrades."""
    assert event_id_for("a", "b", "c", "d") == str(
        uuid.uuid5(uuid.UUID("5b0c6a43-0e4e-4bd7-9a55-3f8f1c3b2a10"), "a|b|c|d")
    )


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("new_value", ["bling", "customer:43", "2024-05-10T14:22:32", "", "X"])
def test_event_id_changes_when_any_input_changes(position: int, new_value: str) -> None:
    """Changing any one of the four inputs yields a different id."""
    args = list(BASE_ID_ARGS)
    assert args[position] != new_value
    args[position] = new_value
    assert event_id_for(*args) != event_id_for(*BASE_ID_ARGS)


def test_event_id_default_status_is_empty() -> None:
    """Omitting the status is the same as an empty one and differs from a given status."""
    assert event_id_for("auvo", "task:1", "v") == event_id_for("auvo", "task:1", "v", "")
    assert event_id_for("auvo", "task:1", "v") != event_id_for("auvo", "task:1", "v", "finished")


# --- JSON round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        envelope(),
        envelope(payload={}),
        envelope(occurred_at=datetime(2024, 1, 1, 0, 0, tzinfo=UTC) + timedelta(microseconds=123456)),
        envelope(payload={"nested": {"list": [1, "dois", None, 3.5]}, "acentuação": "çãé"}),
        auvo_customer_changed(AUVO_RECORD, tenant="acme"),
        bling_contact_changed(BLING_RECORD, observed_at=OBSERVED, content_version="abc"),
    ],
)
def test_json_round_trip(env: Envelope) -> None:
    """from_json(to_json(e)) == e, for bytes and str bodies."""
    body = env.to_json()
    assert isinstance(body, bytes)
    assert Envelope.from_json(body) == env
    assert Envelope.from_json(body.decode()) == env


def test_defaults_of_envelope() -> None:
    """schema_version and tenant have defaults so producers cannot forget them."""
    e = Envelope(
        event_id="x", type="t", occurred_at=OBSERVED, source="auvo", entity_id="1", entity_version="v"
    )
    assert e.schema_version == SCHEMA_VERSION
    assert e.tenant == "default"
    assert e.payload == {}


def test_envelope_is_frozen() -> None:
    """An envelope cannot be mutated after it is built."""
    e = envelope()
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError for frozen models
        e.event_id = "other"  # type: ignore[misc]


# --- malformed bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "not JSON"),
        (b"not json at all", "not JSON"),
        (b"{'single': 'quotes'}", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b'{"event_id": "x"', "not JSON"),
        (b"[]", "not a JSON object"),
        (b'"a string"', "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"null", "not a JSON object"),
    ],
)
def test_non_json_or_non_object_is_malformed(body: bytes, fragment: str) -> None:
    """Garbage never crashes the consumer: it becomes MalformedMessage."""
    with pytest.raises(MalformedMessage, match=fragment):
        Envelope.from_json(body)


@pytest.mark.parametrize(
    "missing", ["event_id", "type", "occurred_at", "source", "entity_id", "entity_version"]
)
def test_missing_required_field_is_malformed(missing: str) -> None:
    """Every required envelope field is required on the wire; the error names it."""
    data = body_dict()
    del data[missing]
    with pytest.raises(MalformedMessage, match=missing):
        Envelope.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "yesterday"),
        ("payload", [1, 2]),
        ("schema_version", "one"),
        ("entity_id", None),
    ],
)
def test_wrong_field_type_is_malformed(field: str, value: Any) -> None:
    """A field of the wrong type is a malformed message, not a crash."""
    with pytest.raises(MalformedMessage, match=field):
        Envelope.from_json(json.dumps(body_dict(**{field: value})))


def test_extra_field_is_malformed() -> None:
    """Unknown envelope fields are refused (a contract change must be versioned)."""
    with pytest.raises(MalformedMessage, match="surprise"):
        Envelope.from_json(json.dumps(body_dict(surprise=1)))


def test_newer_schema_version_is_malformed() -> None:
    """A message from a newer producer is refused with an upgrade hint."""
    with pytest.raises(MalformedMessage, match="newer") as info:
        Envelope.from_json(json.dumps(body_dict(schema_version=SCHEMA_VERSION + 1)))
    assert "upgrade" in str(info.value)


def test_current_and_older_schema_versions_are_accepted() -> None:
    """schema_version <= current decodes."""
    for version in range(1, SCHEMA_VERSION + 1):
        assert Envelope.from_json(json.dumps(body_dict(schema_version=version))).schema_version == version


def test_malformed_message_is_a_value_error() -> None:
    """Callers catching ValueError also catch MalformedMessage."""
    assert issubclass(MalformedMessage, ValueError)


# --- parse_payload -------------------------------------------------------------------------------


def test_every_event_type_has_a_payload_model() -> None:
    """The routing keys of the design each have a contract."""
    expected = {
        AUVO_EXPENSE_RECORDED: AuvoExpenseRecorded,
        AUVO_CUSTOMER_CHANGED: AuvoCustomerChanged,
        BLING_CONTACT_CHANGED: BlingContactChanged,
        AUVO_TASK_STATUS_REACHED: AuvoTaskStatusReached,
        AUVO_QUOTE_STATUS_REACHED: AuvoQuoteStatusReached,
        BLING_PRODUCT_CHANGED: BlingProductChanged,

        BLING_ORDER_OUTCOME: BlingOrderOutcome,
    }
    assert dict(PAYLOAD_MODELS) == expected


@pytest.mark.parametrize(
    ("event_type", "model"),
    [
        (AUVO_CUSTOMER_CHANGED, BlingContactChanged),
        (BLING_CONTACT_CHANGED, AuvoCustomerChanged),
        (AUVO_TASK_STATUS_REACHED, AuvoQuoteStatusReached),
        ("auvo.unknown.thing", AuvoCustomerChanged),
    ],
)
def test_parse_payload_refuses_wrong_model_for_type(event_type: str, model: type[BaseModel]) -> None:
    """Asking for a model the type does not carry is a MalformedMessage."""
    with pytest.raises(MalformedMessage, match="does not carry"):
        parse_payload(envelope(type=event_type), model)


@pytest.mark.parametrize(
    ("event_type", "model", "payload", "where"),
    [
        (AUVO_CUSTOMER_CHANGED, AuvoCustomerChanged, {}, "customer"),
        (AUVO_CUSTOMER_CHANGED, AuvoCustomerChanged, {"customer": {"description": "no id"}}, "customer.id"),
        (AUVO_CUSTOMER_CHANGED, AuvoCustomerChanged, {"customer": {"id": "abc"}}, "customer.id"),
        (AUVO_CUSTOMER_CHANGED, AuvoCustomerChanged, {"customer": "just a string"}, "customer"),
        (
            AUVO_CUSTOMER_CHANGED,
            AuvoCustomerChanged,
            {"customer": {"id": 1, "phoneNumber": "11 99999-0000"}},
            "customer.phoneNumber",
        ),
        (BLING_CONTACT_CHANGED, BlingContactChanged, {"contact": {"id": 1}}, "observed_at"),
        (
            BLING_CONTACT_CHANGED,
            BlingContactChanged,
            {"contact": {"nome": "x"}, "observed_at": "2024-01-01T00:00:00Z"},
            "contact.id",
        ),
        (AUVO_TASK_STATUS_REACHED, AuvoTaskStatusReached, {"task_id": 1}, "status"),
        (AUVO_QUOTE_STATUS_REACHED, AuvoQuoteStatusReached, {"quote_id": "x", "stage": "a"}, "quote_id"),
    ],
)
def test_parse_payload_refuses_wrong_shape(
    event_type: str, model: type[BaseModel], payload: dict[str, Any], where: str
) -> None:
    """A payload that does not fit its model is MalformedMessage naming the bad location."""
    with pytest.raises(MalformedMessage) as info:
        parse_payload(envelope(type=event_type, payload=payload), model)
    assert where in str(info.value)
    assert event_type in str(info.value)


def test_parse_payload_ignores_unknown_record_fields() -> None:
    """A provider adding a field never breaks the consumer."""
    parsed = parse_payload(auvo_customer_changed(AUVO_RECORD), AuvoCustomerChanged)
    assert parsed.customer.id == AUVO_RECORD["id"]
    assert parsed.customer.cpfCnpj == "12.345.678/0001-95"
    assert not hasattr(parsed.customer, "someFieldAuvoAddsLater")


# --- auvo_customer_changed -----------------------------------------------------------------------


def test_auvo_customer_changed_uses_date_last_update_as_version() -> None:
    """Envelope fields come from the record: id, dateLastUpdate, source, tenant."""
    e = auvo_customer_changed(AUVO_RECORD, tenant="acme")
    assert e.type == AUVO_CUSTOMER_CHANGED
    assert e.source == "auvo"
    assert e.tenant == "acme"
    assert e.entity_id == "8123401"
    assert e.entity_version == "2024-05-10T14:22:31"
    assert e.event_id == event_id_for("auvo", "customer:8123401", "2024-05-10T14:22:31", "changed")
    assert e.occurred_at.tzinfo is not None


def test_auvo_customer_changed_same_record_same_event_id() -> None:
    """Polling the same record twice gives the same event id (consumer dedupe works)."""
    first = auvo_customer_changed(dict(AUVO_RECORD))
    second = auvo_customer_changed(dict(AUVO_RECORD))
    assert first.event_id == second.event_id


def test_auvo_customer_changed_new_version_new_event_id() -> None:
    """A new dateLastUpdate is a new change: different id, newer version."""
    first = auvo_customer_changed(AUVO_RECORD)
    changed = auvo_customer_changed({**AUVO_RECORD, "dateLastUpdate": "2024-05-10T14:25:00"})
    assert changed.event_id != first.event_id
    assert changed.entity_version == "2024-05-10T14:25:00"


def test_auvo_customer_changed_other_customer_other_event_id() -> None:
    """Two customers updated at the same instant do not collide."""
    a = auvo_customer_changed(AUVO_RECORD)
    b = auvo_customer_changed({**AUVO_RECORD, "id": AUVO_RECORD["id"] + 1})
    assert a.event_id != b.event_id


def test_auvo_customer_changed_payload_parses_back() -> None:
    """The payload is a snapshot that parse_payload turns back into the record's typed fields."""
    e = Envelope.from_json(auvo_customer_changed(AUVO_RECORD).to_json())
    customer = parse_payload(e, AuvoCustomerChanged).customer
    assert customer.description == "Padaria Pão Quente Ltda"
    assert customer.phoneNumber == ["(11) 3456-7890", "(11) 98765-4321"]
    assert customer.email == ["contato@paoquente.com.br"]
    assert customer.adressComplement == "Loja 2"
    assert customer.dateLastUpdate == "2024-05-10T14:22:31"


def test_auvo_customer_changed_rejects_record_without_id() -> None:
    """A record that is not a customer cannot become an event."""
    with pytest.raises(ValueError):
        auvo_customer_changed({"description": "sem id"})


# --- bling_contact_changed -----------------------------------------------------------------------


def test_bling_contact_changed_event_id_depends_on_content_not_observation_time() -> None:
    """Re-polling identical content later gives the same event id; the version is the time seen."""
    first = bling_contact_changed(BLING_RECORD, observed_at=OBSERVED, content_version="fp-1")
    later = bling_contact_changed(
        BLING_RECORD, observed_at=OBSERVED + timedelta(minutes=10), content_version="fp-1"
    )
    assert first.event_id == later.event_id
    assert first.entity_version == OBSERVED.isoformat()
    assert later.entity_version == (OBSERVED + timedelta(minutes=10)).isoformat()
    assert later.entity_version > first.entity_version


def test_bling_contact_changed_new_content_new_event_id() -> None:
    """Another content version (or contact) is another event."""
    a = bling_contact_changed(BLING_RECORD, observed_at=OBSERVED, content_version="fp-1")
    b = bling_contact_changed(BLING_RECORD, observed_at=OBSERVED, content_version="fp-2")
    c = bling_contact_changed({**BLING_RECORD, "id": 99}, observed_at=OBSERVED, content_version="fp-1")
    assert len({a.event_id, b.event_id, c.event_id}) == 3
    assert a.event_id == event_id_for("bling", f"contact:{BLING_RECORD['id']}", "fp-1", "changed")


def test_bling_contact_changed_payload_round_trips() -> None:
    """Envelope fields and the typed payload survive the wire."""
    e = Envelope.from_json(
        bling_contact_changed(BLING_RECORD, observed_at=OBSERVED, content_version="fp", tenant="t2").to_json()
    )
    assert (e.type, e.source, e.tenant, e.entity_id) == (
        BLING_CONTACT_CHANGED,
        "bling",
        "t2",
        str(BLING_RECORD["id"]),
    )
    payload = parse_payload(e, BlingContactChanged)
    assert payload.observed_at == OBSERVED
    assert payload.contact.codigo == "AUVO-8123401"
    assert payload.contact.endereco is not None and payload.contact.endereco.geral is not None
    assert payload.contact.endereco.geral.numero == "1000"
