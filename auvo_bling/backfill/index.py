"""Both sides' customers as the backfill read them, page by page, paired in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auvo_bling.backfill.sides import JsonDict
from consumers.customers.mapping import fields_from_bling
from consumers.customers.matching import AuvoEntry, BlingEntry
from contracts.customer_fields import CustomerFields, fields_from_auvo
from contracts.events import AuvoCustomer, BlingContact

if TYPE_CHECKING:
    pass


@dataclass
class SideIndex:
    auvo: dict[str, AuvoCustomer] = field(default_factory=dict)
    auvo_fields: dict[str, CustomerFields] = field(default_factory=dict)
    bling: dict[str, BlingContact] = field(default_factory=dict)  # list entries (or full records)
    full: dict[str, JsonDict] = field(default_factory=dict)  # contatos read in full, raw
    newest_auvo_update: str | None = None

    def add_auvo(self, record: JsonDict) -> None:
        customer = AuvoCustomer.model_validate(record)
        key = str(customer.id)
        self.auvo[key] = customer
        self.auvo_fields[key] = fields_from_auvo(customer)
        stamp = (customer.dateLastUpdate or "").replace(" ", "T")
        if stamp and (self.newest_auvo_update is None or stamp > self.newest_auvo_update):
            self.newest_auvo_update = stamp

    def add_bling(self, record: JsonDict, *, complete: bool) -> None:
        contact = BlingContact.model_validate(record)
        self.bling[str(contact.id)] = contact
        if complete:
            self.full[str(contact.id)] = record

    def auvo_entries(self) -> list[AuvoEntry]:
        return [AuvoEntry.of(c, self.auvo_fields[k]) for k, c in self.auvo.items()]

    def bling_entries(self) -> list[BlingEntry]:
        return [BlingEntry.of(c, complete=k in self.full) for k, c in self.bling.items()]

    def bling_fields(self, bling_id: str) -> CustomerFields:
        """The best we know of a contato: the full record if read, else its list entry."""
        return fields_from_bling(self.bling[bling_id])
