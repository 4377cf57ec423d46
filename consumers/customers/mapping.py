"""Pure translation between an Auvo customer and a Bling contato, through one neutral shape.

Both directions go through `CustomerFields`, the part of a customer both systems can hold. That
gives the round-trip property echo suppression relies on: translating A -> B -> neutral yields
the same neutral fields (and so the same fingerprint) as A -> neutral. Tests check it by table.

What is not mapped (yet): Auvo's extra e-mails beyond the first, contacts (people), groups,
GPS coordinates and attachments; Bling's IE/RG, vendedor, financeiro and billing address.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from contracts.customer_fields import (
    NAMELESS,
    CustomerFields,
    clean_text,
    digits,
    plain_name,
)
from contracts.events import BlingContact

AUVO_MARKER_PREFIX = "AUVO-"


def person_type(document: str) -> str:
    """Bling's `tipo`: J for a 14-digit CNPJ, F otherwise (CPF or no document)."""
    return "J" if len(digits(document)) == 14 else "F"


def auvo_marker(auvo_id: int | str) -> str:
    """The `codigo` we give a Bling contato so it can be found again if the id map is lost."""
    return f"{AUVO_MARKER_PREFIX}{auvo_id}"


def auvo_id_from_marker(codigo: str | None) -> str | None:
    if codigo and codigo.startswith(AUVO_MARKER_PREFIX) and codigo[len(AUVO_MARKER_PREFIX) :].isdigit():
        return codigo[len(AUVO_MARKER_PREFIX) :]
    return None


# --- Auvo -> neutral -> Bling -----------------------------------------------------------------


def bling_contact_body(
    fields: CustomerFields, *, auvo_id: int | str | None, existing: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The request body for `POST /contatos` or `PUT /contatos/{id}`.

    PUT replaces the whole contato, so an update starts from the raw contato Bling returned
    (`existing`, every field, including those we do not model such as IE, vendedor or
    financeiro) and only overwrites the fields we map; the user's own `codigo` is kept if it is
    not ours, and a structured address is kept when it already reads as the same line.
    """
    body: dict[str, Any] = copy.deepcopy({k: v for k, v in (existing or {}).items() if k != "id"})
    codigo = body.get("codigo")
    if auvo_id is not None and (not codigo or auvo_id_from_marker(codigo) is not None):
        body["codigo"] = auvo_marker(auvo_id)
    body["nome"] = fields.name or NAMELESS
    body["situacao"] = "A" if fields.active else "I"
    if fields.document or body.get("tipo") not in ("F", "J", "E"):
        body["tipo"] = person_type(fields.document)
    body["numeroDocumento"] = fields.document
    body["email"] = fields.email
    body["telefone"] = fields.phone
    body["celular"] = fields.mobile
    endereco = dict(body.get("endereco") or {})
    current = BlingContact.model_validate({"id": 0, "endereco": endereco}) if endereco else None
    if current is None or _bling_address(current) != (fields.address, fields.address_complement):
        endereco["geral"] = {"endereco": fields.address, "complemento": fields.address_complement}
    body["endereco"] = endereco
    return body


# --- Bling -> neutral -> Auvo -----------------------------------------------------------------


def _bling_address(contact: BlingContact) -> tuple[str, str]:
    geral = contact.endereco.geral if contact.endereco and contact.endereco.geral else None
    if geral is None:
        return "", ""
    street = ", ".join(p for p in (clean_text(geral.endereco), clean_text(geral.numero)) if p)
    parts = [street]
    if clean_text(geral.bairro):
        parts.append(clean_text(geral.bairro))
    city = " - ".join(p for p in (clean_text(geral.municipio), clean_text(geral.uf)) if p)
    if city:
        parts.append(city)
    if digits(geral.cep):
        parts.append(f"CEP {digits(geral.cep)}")
    return ", ".join(p for p in parts if p), clean_text(geral.complemento)


def fields_from_bling(contact: BlingContact) -> CustomerFields:
    address, complement = _bling_address(contact)
    # position-free like Auvo's phone list: a contato with only a celular reads as one phone
    phones = [p for p in (digits(contact.telefone), digits(contact.celular)) if p]
    return CustomerFields(
        name=plain_name(contact.nome),
        document=digits(contact.numeroDocumento),
        email=(contact.email or "").strip().lower(),
        phone=phones[0] if phones else "",
        mobile=phones[1] if len(phones) > 1 else "",
        address=address,
        address_complement=complement,
        active=contact.situacao not in ("I", "E"),
    )


def auvo_customer_body(fields: CustomerFields, *, bling_id: int | str, auvo_id: int | None) -> dict[str, Any]:
    """The body for Auvo's `PUT /customers/` upsert.

    A customer we create from Bling gets the Bling id as `externalId`, so the upsert itself finds
    it again if the id map is lost; a customer that came from Auvo is addressed by its own id
    (its codigo in Bling says which) and its externalId is left alone.
    """
    body: dict[str, Any] = {
        "description": fields.name or NAMELESS,
        "cpfCnpj": fields.document,
        "phoneNumber": [p for p in (fields.phone, fields.mobile) if p],
        "email": [fields.email] if fields.email else [],
        "address": fields.address,
        "adressComplement": fields.address_complement,
        "active": fields.active,
    }
    if auvo_id is not None:
        body["id"] = auvo_id  # keep whatever externalId the customer has (maybe another ERP's)
    else:
        body["externalId"] = str(bling_id)
    return body
