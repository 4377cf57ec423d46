"""The neutral customer both sides compare: what an Auvo customer and a Bling contato can both hold.

Shared by the Auvo customer poller (its index keys) and the customer consumers (matching, echo
suppression), so an index key and a lookup key are always normalised the same way.
"""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel

from contracts.events import AuvoCustomer

NAMELESS = "(sem nome)"  # both APIs require a name; this placeholder reads back as no name


class CustomerFields(BaseModel):
    """The neutral customer: what both sides hold, normalised for comparison."""

    name: str
    document: str = ""  # digits only
    email: str = ""  # lower-case
    phone: str = ""  # digits only
    mobile: str = ""  # digits only
    address: str = ""
    address_complement: str = ""
    active: bool = True

    def fingerprint(self) -> str:
        canonical = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def clean_text(value: str | None) -> str:
    return " ".join((value or "").split())


def plain_name(value: str | None) -> str:
    name = clean_text(value)
    return "" if name == NAMELESS else name


def fields_from_auvo(customer: AuvoCustomer) -> CustomerFields:
    phones = [digits(p) for p in customer.phoneNumber if digits(p)]
    emails = [e.strip().lower() for e in customer.email if e and e.strip()]
    return CustomerFields(
        name=plain_name(customer.description),
        document=digits(customer.cpfCnpj),
        email=emails[0] if emails else "",
        phone=phones[0] if phones else "",
        mobile=phones[1] if len(phones) > 1 else "",
        address=clean_text(customer.address),
        address_complement=clean_text(customer.adressComplement),
        active=customer.active is not False,
    )
