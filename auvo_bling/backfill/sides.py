"""The backfill's names (counters, cursors), its limits, and the two sides it reads and writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from infra.errors import PermanentError
from infra.http import RequestCount

if TYPE_CHECKING:
    pass


ENTITY = "customer"
CONSUMER = "backfill"  # counters (the writers' locks and intents are the consumers' own)
PHASE_CURSOR = "backfill.phase"
POSITION_CURSOR = "backfill.position"
STARTED_CURSOR = "backfill.started_at"
PAGE_SIZE = 100
LINK_BATCH = 200
CHECKPOINT_EVERY = 10
LOCK_TTL_SECONDS = 24 * 3600.0  # SQLite lease; PostgreSQL's advisory lock dies with the process
BUSY_ROUNDS = 100  # records another writer holds (or whose create is in doubt) are retried this often

JsonDict = dict[str, Any]


class AuvoSide(Protocol):
    requests: RequestCount

    def customers_page(self, param_filter: JsonDict | None = None, page: int = 1) -> list[JsonDict]: ...
    def get_customer(self, customer_id: int | str) -> JsonDict: ...
    def upsert_customer(self, body: JsonDict) -> tuple[JsonDict, bool]: ...


class BlingSide(Protocol):
    requests: RequestCount

    def contacts_page(self, page: int = 1, **filters: Any) -> list[JsonDict]: ...
    def iter_contacts(self, **filters: Any) -> Any: ...
    def get_contact(self, contact_id: int) -> JsonDict: ...
    def create_contact(self, body: JsonDict) -> int: ...
    def update_contact(self, contact_id: int, body: JsonDict) -> None: ...


class BackfillBusy(PermanentError):
    default_hint = "another `auvo-bling backfill` is running for this tenant; wait for it to finish"
