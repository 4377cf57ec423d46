"""Deterministic, realistic Brazilian test data for the simulators.

Why: the integration matches Auvo customers and Bling contacts by CPF/CNPJ, normalises phones and
addresses, and must cope with records that have no document at all. Data that *looks* Brazilian
(valid check digits, CEP per UF, accented names, formatted and unformatted documents) exercises
that code the way production data will. Everything comes from `random.Random(rng_seed)`, so a
seed always yields the same records (no dependency on Faker or the global RNG).

Mix per seeded batch: about 20 % without document, 45 % CPF (11 digits), 35 % CNPJ (14 digits).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulators.tax_ids import cnpj_check_digits, cpf_check_digits

if TYPE_CHECKING:
    from simulators.auvo import AuvoState
    from simulators.bling import BlingState

FIRST_NAMES = (
    "Ana", "João", "Maria", "José", "Francisca", "Antônio", "Adriana", "Carlos", "Juliana", "Paulo",
    "Márcia", "Lucas", "Fernanda", "Rafael", "Patrícia", "Marcos", "Aline", "Luiz", "Camila", "Gabriel",
    "Sandra", "Pedro", "Letícia", "Thiago", "Bruna", "Rodrigo", "Vitória", "Felipe", "Débora", "Célio",
)
SURNAMES = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes",
    "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira",
    "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques", "Machado",
    "Mendes", "Araújo", "Conceição", "Gonçalves",
)
COMPANY_CORES = (
    "Refrigeração", "Climatização", "Elevadores", "Segurança Eletrônica", "Manutenção Predial",
    "Energia Solar", "Telecom", "Automação", "Engenharia", "Hidráulica", "Extintores", "Serviços Médicos",
    "Padaria", "Supermercado", "Clínica Odontológica", "Transportes", "Metalúrgica", "Hotel",
)
COMPANY_SUFFIXES = ("Ltda", "ME", "EIRELI", "S.A.", "Comércio e Serviços Ltda", "Indústria Ltda")
STREET_TYPES = ("Rua", "Avenida", "Travessa", "Alameda", "Rodovia")
STREET_NAMES = (
    "das Flores", "Brasil", "Sete de Setembro", "XV de Novembro", "Getúlio Vargas", "Tiradentes",
    "Santos Dumont", "Marechal Deodoro", "Dom Pedro II", "Olavo Bilac", "Rui Barbosa", "da Paz",
    "Castro Alves", "Presidente Kennedy", "João Pessoa", "das Palmeiras", "Independência",
)
JOB_POSITIONS = ("Gerente", "Síndico", "Comprador", "Financeiro", "Diretor", "Zelador", "Proprietário")
EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "uol.com.br", "terra.com.br")


@dataclass(frozen=True)
class City:
    """A real município with its UF, phone area code, a CEP prefix of its range and some bairros."""

    municipio: str
    uf: str
    ddd: str
    cep_prefix: str
    bairros: tuple[str, ...]
    lat: float
    lon: float


CITIES = (
    City("São Paulo", "SP", "11", "01", ("Pinheiros", "Mooca", "Tatuapé", "Vila Mariana", "Santana"),
         -23.5505, -46.6333),
    City("Rio de Janeiro", "RJ", "21", "22", ("Copacabana", "Tijuca", "Botafogo", "Méier", "Barra"),
         -22.9068, -43.1729),
    City("Belo Horizonte", "MG", "31", "30", ("Savassi", "Funcionários", "Pampulha", "Barreiro"),
         -19.9167, -43.9345),
    City("Goiânia", "GO", "62", "74", ("Setor Bueno", "Setor Oeste", "Jardim América", "Setor Marista"),
         -16.6869, -49.2648),
    City("Porto Alegre", "RS", "51", "90", ("Moinhos de Vento", "Menino Deus", "Petrópolis", "Centro"),
         -30.0346, -51.2177),
    City("Bento Gonçalves", "RS", "54", "95", ("Imigrante", "Cidade Alta", "São Bento", "Centro"),
         -29.1699, -51.5185),
    City("Curitiba", "PR", "41", "80", ("Batel", "Água Verde", "Portão", "Boqueirão"), -25.4284, -49.2733),
    City("Salvador", "BA", "71", "40", ("Barra", "Pituba", "Itapuã", "Rio Vermelho"), -12.9777, -38.5016),
    City("Recife", "PE", "81", "50", ("Boa Viagem", "Casa Forte", "Espinheiro", "Madalena"),
         -8.0476, -34.8770),
    City("Fortaleza", "CE", "85", "60", ("Aldeota", "Meireles", "Messejana", "Benfica"), -3.7319, -38.5267),
    City("Brasília", "DF", "61", "70", ("Asa Sul", "Asa Norte", "Lago Sul", "Sudoeste"), -15.7939, -47.8828),
    City("Manaus", "AM", "92", "69", ("Adrianópolis", "Centro", "Ponta Negra", "Flores"), -3.1190, -60.0217),
    City("Florianópolis", "SC", "48", "88", ("Trindade", "Centro", "Itacorubi", "Lagoa"), -27.5954, -48.5480),
    City("Belém", "PA", "91", "66", ("Nazaré", "Umarizal", "Marco", "Batista Campos"), -1.4558, -48.5044),
)


# --- documents ------------------------------------------------------------------------------------


def make_cpf(rng: random.Random) -> str:
    """A valid CPF, 11 digits, no punctuation."""
    while True:
        base = "".join(str(rng.randint(0, 9)) for _ in range(9))
        if base != base[0] * 9:
            return base + cpf_check_digits(base)


def make_cnpj(rng: random.Random) -> str:
    """A valid CNPJ of a head office (branch 0001), 14 digits, no punctuation."""
    base = "".join(str(rng.randint(0, 9)) for _ in range(8)) + "0001"
    return base + cnpj_check_digits(base)


def format_cpf(digits: str) -> str:
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


def format_cnpj(digits: str) -> str:
    return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"


# --- people, companies, contact data --------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """One generated customer/contact, neutral to both APIs; the seeders map it to each shape."""

    name: str
    kind: str  # "F" (pessoa física), "J" (jurídica)
    document: str  # digits only, "" when absent
    email: str
    mobile_digits: str  # e.g. 11987654321
    landline_digits: str
    street: str
    number: str
    complement: str
    bairro: str
    municipio: str
    uf: str
    cep: str  # 8 digits
    lat: float
    lon: float
    contact_name: str
    contact_job: str


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def person_name(rng: random.Random) -> str:
    middle, last = rng.sample(SURNAMES, 2)
    return f"{rng.choice(FIRST_NAMES)} {middle} {last}"


def company_name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(COMPANY_CORES)} {rng.choice(COMPANY_SUFFIXES)}"


def email_for(name: str, rng: random.Random) -> str:
    words = [w for w in strip_accents(name).lower().replace(".", "").split() if w.isalpha()]
    local = ".".join(words[:2]) if len(words) > 1 else words[0]
    return f"{local}{rng.randint(1, 99)}@{rng.choice(EMAIL_DOMAINS)}"


def mobile(rng: random.Random, ddd: str) -> str:
    return f"{ddd}9{rng.randint(6000, 9999)}{rng.randint(0, 9999):04d}"


def landline(rng: random.Random, ddd: str) -> str:
    return f"{ddd}{rng.randint(2, 5)}{rng.randint(100, 999)}{rng.randint(0, 9999):04d}"


def format_phone(digits: str) -> str:
    """(11) 98765-4321 / (11) 3333-4444, the way Bling shows phones."""
    ddd, rest = digits[:2], digits[2:]
    return f"({ddd}) {rest[:-4]}-{rest[-4:]}"


def format_cep(digits: str) -> str:
    return f"{digits[:5]}-{digits[5:]}"


def make_party(rng: random.Random) -> Party:
    """One realistic customer: 20 % no document, 45 % person with CPF, 35 % company with CNPJ."""
    draw = rng.random()
    city = rng.choice(CITIES)
    if draw < 0.20:
        kind = rng.choice(("F", "J"))
        document = ""
    elif draw < 0.65:
        kind, document = "F", make_cpf(rng)
    else:
        kind, document = "J", make_cnpj(rng)
    name = person_name(rng) if kind == "F" else company_name(rng)
    contact = person_name(rng)
    return Party(
        name=name,
        kind=kind,
        document=document,
        email=email_for(contact if kind == "J" else name, rng),
        mobile_digits=mobile(rng, city.ddd),
        landline_digits=landline(rng, city.ddd),
        street=f"{rng.choice(STREET_TYPES)} {rng.choice(STREET_NAMES)}",
        number=str(rng.randint(1, 4000)),
        complement=rng.choice(("", "", "Sala 101", "Apto 32", "Bloco B", "Galpão 2", "Loja 4")),
        bairro=rng.choice(city.bairros),
        municipio=city.municipio,
        uf=city.uf,
        cep=f"{city.cep_prefix}{rng.randint(0, 999999):06d}",
        lat=round(city.lat + rng.uniform(-0.08, 0.08), 7),
        lon=round(city.lon + rng.uniform(-0.08, 0.08), 7),
        contact_name=contact,
        contact_job=rng.choice(JOB_POSITIONS),
    )


def auvo_address(p: Party) -> str:
    """Auvo keeps the address as one free-text line, the way users type it."""
    return f"{p.street}, {p.number} - {p.bairro}, {p.municipio} - {p.uf}, {format_cep(p.cep)}"


# --- seeders --------------------------------------------------------------------------------------


def seed_auvo_customers(state: AuvoState, n: int, rng_seed: int = 0) -> list[dict[str, Any]]:
    """Add `n` customers to an Auvo simulator; returns the stored records (copies)."""
    rng = random.Random(rng_seed)
    created: list[dict[str, Any]] = []
    for i in range(n):
        p = make_party(rng)
        created.append(
            state.add_customer(
                description=p.name,
                externalId="" if rng.random() < 0.7 else f"ERP-{rng_seed}-{i + 1}",
                cpfCnpj=p.document,
                phoneNumber=[p.mobile_digits] + ([p.landline_digits] if rng.random() < 0.3 else []),
                email=[p.email],
                manager=p.contact_name if p.kind == "J" else "",
                managerJobPosition=p.contact_job if p.kind == "J" else "",
                note="",
                address=auvo_address(p),
                latitude=p.lat,
                longitude=p.lon,
                adressComplement=p.complement,
                active=rng.random() > 0.05,
                contacts=[{"name": p.contact_name, "email": p.email, "jobPosition": p.contact_job,
                           "phone": p.mobile_digits}] if p.kind == "J" else [],
            )
        )
    return created


def seed_bling_contacts(state: BlingState, n: int, rng_seed: int = 0) -> list[dict[str, Any]]:
    """Add `n` contacts to a Bling simulator; about a third show the document formatted."""
    rng = random.Random(rng_seed)
    created: list[dict[str, Any]] = []
    for i in range(n):
        p = make_party(rng)
        document = p.document
        if document and rng.random() < 0.33:
            document = format_cpf(document) if len(document) == 11 else format_cnpj(document)
        address = {
            "endereco": p.street, "cep": format_cep(p.cep), "bairro": p.bairro, "municipio": p.municipio,
            "uf": p.uf, "numero": p.number, "complemento": p.complement,
        }
        created.append(
            state.add_contact(
                nome=p.name,
                codigo=f"C{rng_seed:02d}{i + 1:04d}",
                situacao="A",
                numeroDocumento=document,
                telefone=format_phone(p.landline_digits),
                celular=format_phone(p.mobile_digits),
                tipo=p.kind,
                fantasia=p.name.split(" ")[0] if p.kind == "J" else "",
                indicadorIe=9,
                email=p.email,
                endereco={"geral": address, "cobranca": dict(address)},
            )
        )
    return created


def seed_auvo_extras(state: AuvoState, rng_seed: int = 0) -> None:
    """A few customer groups, task types, tasks, quotations, products, services, expenses, webhooks.

    Tasks and quotations point at existing customers, so seed customers first.
    """
    rng = random.Random(rng_seed)
    customer_ids = sorted(state.customers)
    groups = [
        state.add_record("customerGroups", {"description": d}) for d in ("VIP", "Condomínios", "Indústrias")
    ]
    for cid in customer_ids[::3]:
        state.update_customer(cid, groupsId=[rng.choice(groups)["id"]])
    types = [
        state.add_record("taskTypes", {"description": d, "standardTime": t})
        for d, t in (
            ("Manutenção preventiva", "01:00:00"), ("Instalação", "02:30:00"), ("Visita técnica", "00:45:00")
        )
    ]
    for _ in range(min(12, max(3, len(customer_ids)))):
        cid = rng.choice(customer_ids) if customer_ids else 0
        state.add_task(customerId=cid, taskType=rng.choice(types)["id"],
                       finished=rng.random() < 0.5, finishedManually=rng.random() < 0.5,
                       days_ago=rng.randint(0, 20))
    products = [
        state.add_record("products", {"name": n, "code": c, "unitaryValue": v})
        for n, c, v in (("Filtro de ar", "FA-01", "35,90"), ("Gás R410A 1kg", "GR-410", "120,00"),
                        ("Capacitor 35uF", "CP-35", "42,50"))
    ]
    for t, price in (("Manutenção preventiva", "180.00"), ("Higienização de split", "150.00")):
        state.add_record("services", {"title": t, "price": price, "description": f"Serviço de {t.lower()}"})
    for _ in range(3):
        cid = rng.choice(customer_ids) if customer_ids else 0
        product = rng.choice(products)
        line = {"productId": product["code"], "amout": rng.randint(1, 4), "UnitaryValue": "35.90"}
        name = state.customers[cid]["description"] if cid in state.customers else ""
        state.add_record("quotations", {"customerId": cid, "customerName": name, "products": [line]})
    for desc in ("Combustível", "Almoço", "Estacionamento"):
        state.add_record("expenses", {"description": desc, "amount": rng.randint(1500, 9000) / 100})
    state.add_record("webHooks", {"entity": "Customer", "action": "Alteracao",
                                  "urlResponse": "https://example.invalid/hooks/auvo"})


def seed_bling_extras(state: BlingState, rng_seed: int = 0) -> None:
    """A few products, sales orders, commercial proposals and payables (seed contacts first)."""
    rng = random.Random(rng_seed)
    contact_ids = sorted(state.contacts)
    products = [
        state.add_record("produtos", {"nome": n, "codigo": c, "preco": p, "tipo": t, "situacao": "A",
                                      "formato": "S", "unidade": "UN" if t == "P" else "HR"})
        for n, c, p, t in (("Filtro de ar", "FA-01", 35.9, "P"), ("Gás R410A 1kg", "GR-410", 120.0, "P"),
                           ("Manutenção preventiva", "SRV-MP", 180.0, "S"))
    ]
    for _ in range(min(3, len(contact_ids))):
        cid = rng.choice(contact_ids)
        prod = rng.choice(products)
        qty = float(rng.randint(1, 3))
        item = {"codigo": prod["codigo"], "unidade": "UN", "quantidade": qty, "valor": prod["preco"],
                "descricao": prod["nome"], "produto": {"id": prod["id"]}}
        state.add_record("pedidos/vendas", {"contato": {"id": cid}, "itens": [item]})
        state.add_record("propostas-comerciais", {"contato": {"id": cid}, "itens": [item]})
        state.add_record("contas/pagar", {"contato": {"id": cid}, "valor": round(rng.uniform(50, 900), 2)})


def seed_bling_catalogue(state: BlingState, produtos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A company's own Bling catalogue (its SKUs as `codigo`, GTINs, NCM): produtos that existed
    before the integration, for the matching to find instead of creating shadows of them."""
    base = {"tipo": "P", "situacao": "A", "formato": "S", "unidade": "UN"}
    return [state.add_record("produtos", {**base, **produto}) for produto in produtos]
