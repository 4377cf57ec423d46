"""Auvo customer <-> Bling contato translation: tables of real-looking records and the round trip."""

from __future__ import annotations

import random
from typing import Any

import pytest

from consumers.customers.mapping import (
    auvo_customer_body,
    auvo_id_from_marker,
    auvo_marker,
    bling_contact_body,
    fields_from_bling,
    person_type,
)
from contracts.customer_fields import CustomerFields, digits, fields_from_auvo
from contracts.events import AuvoCustomer, BlingContact

# --- realistic Brazilian data --------------------------------------------------------------------


def _check_digit(numbers: list[int], weights: list[int]) -> int:
    rest = sum(n * w for n, w in zip(numbers, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def make_cpf(rng: random.Random) -> str:
    """A CPF with valid check digits (11 digits)."""
    base = [rng.randint(0, 9) for _ in range(9)]
    base.append(_check_digit(base, list(range(10, 1, -1))))
    base.append(_check_digit(base, list(range(11, 1, -1))))
    return "".join(map(str, base))


def make_cnpj(rng: random.Random) -> str:
    """A CNPJ with valid check digits (14 digits)."""
    base = [rng.randint(0, 9) for _ in range(8)] + [0, 0, 0, 1]
    base.append(_check_digit(base, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]))
    base.append(_check_digit(base, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]))
    return "".join(map(str, base))


def format_cpf(d: str) -> str:
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def format_cnpj(d: str) -> str:
    return f"{d[:2]}.{d[2:5]}.{d[5:8]}/{d[8:12]}-{d[12:]}"


NAMES = [
    "Maria Aparecida dos Santos",
    "José Carlos de Oliveira",
    "  Ana   Paula Ferreira ",
    "Padaria Pão Quente Ltda",
    "Oficina Mecânica São Jorge ME",
    "Condomínio Edifício Ipê\tAmarelo",
    "Ótica Visão & Cia",
    "João D'Ávila",
    "Clínica Veterinária Amigo Fiel EIRELI",
    "Açougue Boi Gordo",
]
EMAILS = [
    "contato@paoquente.com.br",
    "Financeiro@OficinaSaoJorge.com.br",
    "  maria.santos@gmail.com ",
    "JOAO.DAVILA@HOTMAIL.COM",
    "sindico@condominioipe.com.br",
]
PHONE_FORMATS = [
    "({ddd}) {a}-{b}",
    "+55 {ddd} {a}-{b}",
    "{ddd}{a}{b}",
    "0{ddd} {a} {b}",
    "({ddd}) 9{a}-{b}",
]
STREETS = [
    "Rua das Flores, 120",
    "Av. Paulista, 1000 - Bela Vista",
    "Rua XV de Novembro, 45, Centro, Curitiba - PR",
    "Estrada do Coco, km 8\nLauro de Freitas",
    "  Travessa São João,   s/n ",
]
COMPLEMENTS = ["Apto 12", "Loja 2", "Sala 1203 Bloco B", "Fundos", ""]
UFS = ["SP", "RJ", "MG", "BA", "PR", "RS", "PE"]
CITIES = ["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Salvador", "Curitiba", "Porto Alegre", "Recife"]


def make_phone(rng: random.Random) -> str:
    fmt = rng.choice(PHONE_FORMATS)
    return fmt.format(ddd=rng.randint(11, 99), a=rng.randint(1000, 9999), b=rng.randint(1000, 9999))


def make_document(rng: random.Random) -> str | None:
    kind = rng.randrange(6)
    if kind == 0:
        return None
    if kind == 1:
        return ""
    if kind == 2:
        return make_cpf(rng)
    if kind == 3:
        return format_cpf(make_cpf(rng))
    if kind == 4:
        return make_cnpj(rng)
    return format_cnpj(make_cnpj(rng))


def random_auvo_customer(rng: random.Random, auvo_id: int) -> AuvoCustomer:
    """An Auvo customer as GET /customers could return it."""
    phones = [make_phone(rng) for _ in range(rng.randint(0, 3))]
    if phones and rng.random() < 0.2:
        phones.insert(0, "")  # Auvo sometimes returns empty slots
    emails = rng.sample(EMAILS, rng.randint(0, 2))
    return AuvoCustomer(
        id=auvo_id,
        externalId=rng.choice([None, "", "ERP-77"]),
        description=rng.choice(NAMES),
        cpfCnpj=make_document(rng),
        phoneNumber=phones,
        email=emails,
        address=rng.choice([None, "", *STREETS]),
        adressComplement=rng.choice([None, *COMPLEMENTS]),
        active=rng.choice([True, False, None]),
        dateLastUpdate="2024-05-10T14:22:31",
    )


def random_bling_contact(rng: random.Random, bling_id: int, *, with_phone: bool = True) -> BlingContact:
    """A Bling contato as GET /contatos/{id} could return it."""
    geral: dict[str, Any] | None = None
    if rng.random() < 0.8:
        geral = {
            "endereco": rng.choice(["Rua das Flores", "Av. Sete de Setembro", "Rua Bahia", ""]),
            "numero": rng.choice(["120", "1000", "s/n", ""]),
            "complemento": rng.choice(COMPLEMENTS),
            "bairro": rng.choice(["Centro", "Bela Vista", "Savassi", ""]),
            "cep": rng.choice(["01310-100", "30140071", "40.020-000", ""]),
            "municipio": rng.choice([*CITIES, ""]),
            "uf": rng.choice([*UFS, ""]),
        }
    document = make_document(rng)
    telefone = make_phone(rng) if with_phone else rng.choice([None, ""])
    return BlingContact.model_validate(
        {
            "id": bling_id,
            "nome": rng.choice(NAMES),
            "codigo": rng.choice([None, "", "CLI-0042", f"AUVO-{rng.randint(1, 10**7)}"]),
            "situacao": rng.choice(["A", "I"]),
            "numeroDocumento": document,
            "telefone": telefone,
            "celular": rng.choice([None, "", make_phone(rng)]),
            "fantasia": rng.choice([None, "Pão Quente"]),
            "tipo": person_type(document or ""),
            "email": rng.choice([None, "", *EMAILS]),
            "endereco": {"geral": geral, "cobranca": {"endereco": "Caixa Postal 12"}} if geral else None,
        }
    )


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123.456.789-09", "12345678909"),
        ("12.345.678/0001-95", "12345678000195"),
        ("+55 (11) 98765-4321", "5511987654321"),
        ("", ""),
        (None, ""),
        ("sem telefone", ""),
    ],
)
def test_digits(raw: str | None, expected: str) -> None:
    """Only digits survive normalisation."""
    assert digits(raw) == expected


@pytest.mark.parametrize(
    ("document", "tipo"),
    [
        ("52998224725", "F"),
        ("529.982.247-25", "F"),
        ("11222333000181", "J"),
        ("11.222.333/0001-81", "J"),
        ("", "F"),
        ("123", "F"),
    ],
)
def test_person_type(document: str, tipo: str) -> None:
    """CNPJ (14 digits) -> J; CPF, nothing or anything else -> F."""
    assert person_type(document) == tipo


@pytest.mark.parametrize(
    ("codigo", "auvo_id"),
    [
        ("AUVO-123", "123"),
        ("AUVO-", None),
        ("AUVO-12a", None),
        ("auvo-123", None),
        ("CLI-0042", None),
        ("", None),
        (None, None),
    ],
)
def test_auvo_id_from_marker(codigo: str | None, auvo_id: str | None) -> None:
    """Only our exact marker yields an Auvo id."""
    assert auvo_id_from_marker(codigo) == auvo_id


def test_marker_round_trip() -> None:
    """auvo_marker and auvo_id_from_marker are inverses."""
    assert auvo_marker(8123401) == "AUVO-8123401"
    assert auvo_id_from_marker(auvo_marker(8123401)) == "8123401"


# --- Auvo -> neutral -----------------------------------------------------------------------------

AUVO_TABLE: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {
            "id": 1,
            "description": "Maria Aparecida dos Santos",
            "cpfCnpj": "529.982.247-25",
            "phoneNumber": ["(11) 3456-7890", "(11) 98765-4321"],
            "email": ["Maria.Santos@Gmail.com", "outro@x.com"],
            "address": "Rua das Flores, 120",
            "adressComplement": "Apto 12",
            "active": True,
        },
        {
            "name": "Maria Aparecida dos Santos",
            "document": "52998224725",
            "email": "maria.santos@gmail.com",
            "phone": "1134567890",
            "mobile": "11987654321",
            "address": "Rua das Flores, 120",
            "address_complement": "Apto 12",
            "active": True,
        },
    ),
    (
        {
            "id": 2,
            "description": "  Padaria   Pão Quente Ltda ",
            "cpfCnpj": "11.222.333/0001-81",
            "phoneNumber": ["", "+55 11 3333-4444"],
            "email": ["  ", " CONTATO@PAOQUENTE.COM.BR "],
            "address": "Av. Paulista,\n1000",
            "active": False,
        },
        {
            "name": "Padaria Pão Quente Ltda",
            "document": "11222333000181",
            "email": "contato@paoquente.com.br",
            "phone": "551133334444",
            "mobile": "",
            "address": "Av. Paulista, 1000",
            "address_complement": "",
            "active": False,
        },
    ),
    (
        {"id": 3, "description": "João D'Ávila", "active": None},
        {"name": "João D'Ávila", "document": "", "email": "", "phone": "", "mobile": "", "active": True},
    ),
    (
        {"id": 4, "description": "Três Fones", "phoneNumber": ["1111-1111", "2222-2222", "3333-3333"]},
        {"name": "Três Fones", "phone": "11111111", "mobile": "22222222"},
    ),
]


@pytest.mark.parametrize(("record", "expected"), AUVO_TABLE)
def test_fields_from_auvo(record: dict[str, Any], expected: dict[str, Any]) -> None:
    """Auvo records normalise: digits-only documents/phones, lower-case e-mail, collapsed spaces."""
    assert fields_from_auvo(AuvoCustomer(**record)) == CustomerFields(**expected)


# --- neutral -> Bling ----------------------------------------------------------------------------

BLING_BODY_TABLE: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {"name": "Maria", "document": "52998224725", "email": "m@x.com", "phone": "1134567890"},
        {"tipo": "F", "situacao": "A", "numeroDocumento": "52998224725", "telefone": "1134567890"},
    ),
    (
        {"name": "Padaria Ltda", "document": "11222333000181", "mobile": "11987654321", "active": False},
        {"tipo": "J", "situacao": "I", "numeroDocumento": "11222333000181", "celular": "11987654321"},
    ),
    ({"name": "Sem Documento"}, {"tipo": "F", "situacao": "A", "numeroDocumento": "", "email": ""}),
    ({"name": ""}, {"nome": "(sem nome)"}),
]


@pytest.mark.parametrize(("fields", "expected"), BLING_BODY_TABLE)
def test_bling_contact_body_new(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    """A new contato: tipo from the document, situacao from active, marker as codigo."""
    body = bling_contact_body(CustomerFields(**fields), auvo_id=77)
    assert body["codigo"] == "AUVO-77"
    assert body["nome"] == (fields["name"] or "(sem nome)")
    for key, value in expected.items():
        assert body[key] == value
    assert body["endereco"]["geral"] == {"endereco": "", "complemento": ""}
    assert "id" not in body


def test_bling_contact_body_without_auvo_id_sets_no_codigo() -> None:
    """Without an Auvo id there is no marker to write."""
    assert "codigo" not in bling_contact_body(CustomerFields(name="X"), auvo_id=None)


EXISTING = {
    "id": 16123456789,
    "nome": "Nome Antigo",
    "situacao": "A",
    "numeroDocumento": "52998224725",
    "telefone": "1100000000",
    "celular": "11900000000",
    "fantasia": "Fantasia do Usuário",
    "tipo": "F",
    "email": "antigo@x.com",
    "endereco": {
        "geral": {"endereco": "Rua Velha", "numero": "1", "bairro": "Centro"},
        "cobranca": {"endereco": "Caixa Postal 12", "cep": "01000000"},
    },
}


@pytest.mark.parametrize(
    ("existing_codigo", "expected_codigo"),
    [
        ("CLI-0042", "CLI-0042"),  # the user's own code is kept
        ("", "AUVO-8123401"),
        (None, "AUVO-8123401"),
        ("AUVO-8123401", "AUVO-8123401"),
        ("AUVO-555", "AUVO-8123401"),  # ours but stale: re-pointed
        ("AUVO-abc", "AUVO-abc"),  # not our marker shape: the user's
    ],
)
def test_bling_contact_body_update_codigo(existing_codigo: str | None, expected_codigo: str) -> None:
    """The codigo is ours only when empty or already our marker."""
    existing = {**EXISTING, "codigo": existing_codigo}
    body = bling_contact_body(CustomerFields(name="Maria"), auvo_id=8123401, existing=existing)
    assert body["codigo"] == expected_codigo


def test_bling_contact_body_update_keeps_other_fields() -> None:
    """An update starts from the existing contato: unmapped fields and the billing address stay."""
    existing = {**EXISTING, "codigo": "CLI-1"}
    fields = CustomerFields(
        name="Maria Nova", document="11222333000181", email="novo@x.com", phone="1133334444", active=False
    )
    body = bling_contact_body(fields, auvo_id=5, existing=existing)
    assert body["fantasia"] == "Fantasia do Usuário"
    assert body["endereco"]["cobranca"] == {"endereco": "Caixa Postal 12", "cep": "01000000"}
    assert body["nome"] == "Maria Nova"
    assert body["tipo"] == "J"
    assert body["situacao"] == "I"
    assert body["email"] == "novo@x.com"
    assert body["telefone"] == "1133334444"
    assert body["celular"] == ""  # a phone removed in Auvo is removed in Bling
    assert "id" not in body
    assert existing["nome"] == "Nome Antigo"  # the input is not mutated


def test_bling_contact_body_update_keeps_fields_the_model_does_not_declare() -> None:
    """PUT replaces the whole contato, so every field Bling returned must be sent back."""
    raw = {
        **EXISTING,
        "codigo": "CLI-1",
        "ie": "110042490114",
        "indicadorIe": 1,
        "vendedor": {"id": 987},
        "financeiro": {"limiteCredito": 5000},
    }
    body = bling_contact_body(CustomerFields(name="Maria"), auvo_id=5, existing=raw)
    assert body.get("ie") == "110042490114"
    assert body.get("indicadorIe") == 1
    assert body.get("vendedor") == {"id": 987}


def test_bling_contact_body_update_keeps_structured_address_when_unchanged() -> None:
    """If the neutral address equals what the existing contato already shows, its parts are kept."""
    geral = {
        "endereco": "Rua das Flores",
        "numero": "120",
        "bairro": "Centro",
        "cep": "01310-100",
        "municipio": "São Paulo",
        "uf": "SP",
        "complemento": "Apto 12",
    }
    raw = {**EXISTING, "endereco": {"geral": geral}}
    fields = fields_from_bling(BlingContact.model_validate(raw)).model_copy(update={"phone": "1199998888"})
    body = bling_contact_body(fields, auvo_id=5, existing=raw)
    assert body["endereco"]["geral"].get("cep") == "01310-100"
    assert body["endereco"]["geral"].get("municipio") == "São Paulo"


# --- Bling -> neutral ----------------------------------------------------------------------------

BLING_TABLE: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        {
            "id": 1,
            "nome": "Padaria Pão Quente Ltda",
            "situacao": "A",
            "numeroDocumento": "11.222.333/0001-81",
            "telefone": "(11) 3456-7890",
            "celular": "(11) 98765-4321",
            "email": " Contato@PaoQuente.com.br ",
            "endereco": {
                "geral": {
                    "endereco": "Rua das Flores",
                    "numero": "120",
                    "bairro": "Centro",
                    "cep": "01310-100",
                    "municipio": "São Paulo",
                    "uf": "SP",
                    "complemento": "Loja 2",
                }
            },
        },
        {
            "name": "Padaria Pão Quente Ltda",
            "document": "11222333000181",
            "email": "contato@paoquente.com.br",
            "phone": "1134567890",
            "mobile": "11987654321",
            "address": "Rua das Flores, 120, Centro, São Paulo - SP, CEP 01310100",
            "address_complement": "Loja 2",
            "active": True,
        },
    ),
    (
        {"id": 2, "nome": "Inativo", "situacao": "I", "endereco": {"geral": {"municipio": "Recife"}}},
        {"name": "Inativo", "address": "Recife", "active": False},
    ),
    (
        {"id": 3, "nome": "Sem endereço geral", "endereco": {"cobranca": {"endereco": "Rua X"}}},
        {"name": "Sem endereço geral", "address": "", "active": True},
    ),
    (
        {"id": 4, "nome": "Só UF", "endereco": {"geral": {"uf": "BA", "cep": "40.020-000"}}},
        {"name": "Só UF", "address": "BA, CEP 40020000"},
    ),
]


@pytest.mark.parametrize(("record", "expected"), BLING_TABLE)
def test_fields_from_bling(record: dict[str, Any], expected: dict[str, Any]) -> None:
    """Bling contatos normalise the same way; the structured address becomes one line."""
    assert fields_from_bling(BlingContact.model_validate(record)) == CustomerFields(**expected)


def test_deleted_bling_contact_is_not_active() -> None:
    """Bling's situacao E (excluído) is not an active customer."""
    assert fields_from_bling(BlingContact(id=1, nome="Apagado", situacao="E")).active is False


# --- neutral -> Auvo -----------------------------------------------------------------------------


def test_auvo_customer_body_new_customer_carries_bling_id_as_external_id() -> None:
    """Unknown Auvo id: the body has externalId=<bling id> and no id."""
    fields = CustomerFields(
        name="Maria", document="52998224725", email="m@x.com", phone="1134567890", mobile="11987654321"
    )
    body = auvo_customer_body(fields, bling_id=16123456789, auvo_id=None)
    assert body == {
        "description": "Maria",
        "cpfCnpj": "52998224725",
        "phoneNumber": ["1134567890", "11987654321"],
        "email": ["m@x.com"],
        "address": "",
        "adressComplement": "",
        "active": True,
        "externalId": "16123456789",
    }


def test_auvo_customer_body_known_customer_is_addressed_by_id() -> None:
    """Known Auvo id: the body has id and leaves externalId alone."""
    body = auvo_customer_body(CustomerFields(name="", active=False), bling_id=9, auvo_id=8123401)
    assert body["id"] == 8123401
    assert "externalId" not in body
    assert body["description"] == "(sem nome)"
    assert body["active"] is False
    assert body["phoneNumber"] == [] and body["email"] == []


# --- the round-trip property echo suppression relies on -------------------------------------------

N_RECORDS = 400


def auvo_samples() -> list[AuvoCustomer]:
    rng = random.Random(20240510)
    return [random_auvo_customer(rng, 8_000_000 + i) for i in range(N_RECORDS)]


def bling_samples(*, with_phone: bool = True) -> list[BlingContact]:
    rng = random.Random(16 if with_phone else 17)
    return [random_bling_contact(rng, 16_000_000_000 + i, with_phone=with_phone) for i in range(N_RECORDS)]


def test_samples_cover_the_interesting_cases() -> None:
    """The generated tables really contain CPF, CNPJ, no document, inactive, 0-3 phones, addresses."""
    samples = auvo_samples()
    fields = [fields_from_auvo(c) for c in samples]
    assert {person_type(f.document) for f in fields} == {"F", "J"}
    assert any(len(f.document) == 11 for f in fields) and any(f.document == "" for f in fields)
    assert any(not f.active for f in fields) and any(f.active for f in fields)
    assert {len(c.phoneNumber) for c in samples} >= {0, 1, 2, 3}
    assert any(f.mobile for f in fields) and any(f.address for f in fields)
    contacts = bling_samples()
    assert any(c.endereco is None for c in contacts) and any(c.celular for c in contacts)


def test_round_trip_auvo_to_bling_and_back() -> None:
    """fields_from_bling(contato we would write) == fields_from_auvo(customer), for every sample."""
    failures = []
    for customer in auvo_samples():
        expected = fields_from_auvo(customer)
        written = BlingContact(**bling_contact_body(expected, auvo_id=customer.id), id=1)
        if fields_from_bling(written).fingerprint() != expected.fingerprint():
            failures.append((customer, fields_from_bling(written), expected))
    assert failures == []


def test_round_trip_auvo_to_bling_update_of_existing_contact() -> None:
    """The property also holds when the body is built on top of an existing contato."""
    rng = random.Random(99)
    for customer in auvo_samples()[:150]:
        existing = random_bling_contact(rng, 42)
        expected = fields_from_auvo(customer)
        raw = existing.model_dump(exclude_none=True)
        written = BlingContact(**bling_contact_body(expected, auvo_id=customer.id, existing=raw), id=42)
        assert fields_from_bling(written) == expected, customer


def test_round_trip_bling_to_auvo_and_back() -> None:
    """fields_from_auvo(customer we would write) == fields_from_bling(contato), for contatos with telefone."""
    for contact in bling_samples():
        expected = fields_from_bling(contact)
        body = auvo_customer_body(expected, bling_id=contact.id, auvo_id=None)
        written = AuvoCustomer(id=1, **body)
        assert fields_from_auvo(written).fingerprint() == expected.fingerprint(), contact


def test_round_trip_bling_to_auvo_known_customer() -> None:
    """Same property when the Auvo id is known (body carries id instead of externalId)."""
    for contact in bling_samples()[:100]:
        expected = fields_from_bling(contact)
        body = auvo_customer_body(expected, bling_id=contact.id, auvo_id=555)
        assert fields_from_auvo(AuvoCustomer(**body)) == expected, contact


def test_round_trip_bling_contact_with_only_celular() -> None:
    """A contato with only a mobile number survives Bling -> Auvo -> neutral."""
    contact = BlingContact(id=1, nome="Maria", telefone="", celular="(11) 98765-4321")
    expected = fields_from_bling(contact)
    written = AuvoCustomer(id=1, **auvo_customer_body(expected, bling_id=1, auvo_id=None))
    assert fields_from_auvo(written) == expected


def test_round_trip_bling_to_auvo_without_telefone() -> None:
    """The property over generated contatos that have no telefone."""
    for contact in bling_samples(with_phone=False):
        expected = fields_from_bling(contact)
        written = AuvoCustomer(id=1, **auvo_customer_body(expected, bling_id=contact.id, auvo_id=None))
        assert fields_from_auvo(written).fingerprint() == expected.fingerprint(), contact


@pytest.mark.parametrize("direction", ["auvo_to_bling", "bling_to_auvo"])
def test_round_trip_nameless_record(direction: str) -> None:
    """A record with an empty name round-trips to the same fingerprint."""
    if direction == "auvo_to_bling":
        expected = fields_from_auvo(AuvoCustomer(id=1, description="  "))
        back = fields_from_bling(BlingContact(**bling_contact_body(expected, auvo_id=1), id=1))
    else:
        expected = fields_from_bling(BlingContact(id=1, nome=""))
        back = fields_from_auvo(AuvoCustomer(id=1, **auvo_customer_body(expected, bling_id=1, auvo_id=None)))
    assert back.fingerprint() == expected.fingerprint()


def test_fingerprint_is_sensitive_to_every_field() -> None:
    """Changing any neutral field changes the fingerprint (so real edits are never taken for echoes)."""
    base = CustomerFields(
        name="Maria",
        document="52998224725",
        email="m@x.com",
        phone="1",
        mobile="2",
        address="a",
        address_complement="c",
        active=True,
    )
    changed = {
        "name": "Mariah",
        "document": "52998224726",
        "email": "n@x.com",
        "phone": "3",
        "mobile": "4",
        "address": "b",
        "address_complement": "d",
        "active": False,
    }
    seen = {base.fingerprint()}
    for key, value in changed.items():
        seen.add(base.model_copy(update={key: value}).fingerprint())
    assert len(seen) == 1 + len(changed)
    assert base.fingerprint() == CustomerFields(**base.model_dump()).fingerprint()
