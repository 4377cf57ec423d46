"""The receivers' world for generated input: both webhook routes on a real store and a recording
publisher, with an Auvo that answers reads as the real one would; shared by the fuzz suite, the
findings' examples (tests/unit/test_fuzz_findings.py) and the atheris targets (bench/fuzz_inputs.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.envelope import Envelope
from infra.errors import ApiRejected, NotFound
from infra.store import Store
from producers.task_selection import TaskRules
from producers.webhooks.auvo_notifications import AuvoEvents
from producers.webhooks.bling_notifications import BlingIdMapKeeper
from producers.webhooks.receiver import WebhookReceiver, create_webhook_app
from tests.fuzz.asgi import AsgiDriver

SECRET = "bling-client-secret-fuzz-0123456789"
AUVO_SECRET = "auvo-url-secret-fuzz-abcdefghijklmnop"
NOW = datetime(2025, 3, 10, 15, 0, 0, tzinfo=UTC)
AUVO_NOW = "2025-03-10T12:00:00"  # NOW in Auvo's naive Brasília time
MAX_BODY = 64 * 1024

CUSTOMER = {
    "id": 7_340_001,
    "externalId": "",
    "description": "Padaria Pão Quente Ltda",
    "cpfCnpj": "11.222.333/0001-81",
    "phoneNumber": ["(62) 3212-4455"],
    "email": ["compras@paoquente.com.br"],
    "note": "",
    "address": "Rua das Flores, 100",
    "adressComplement": "",
    "active": True,
    "groupsId": [],
    "dateLastUpdate": AUVO_NOW,
    "creationDate": "2025-01-02T09:00:00",
}
TASK = {
    "taskID": 9_100_001,
    "customerId": 7_340_001,
    "taskType": 11,
    "finished": True,
    "checkOut": True,
    "dateLastUpdate": AUVO_NOW,
    "products": [
        {"productId": "p-1", "name": "Filtro", "quantity": 2, "unitaryValue": 35.9, "totalValue": 71.8}
    ],
    "services": [],
}


class Recorder:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)


class WatchedStore:
    """The real store, with every call named: a refused input may only read."""

    READS = frozenset({"auvo_id_for"})

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return target(*args, **kwargs)

        return call

    def writes(self) -> list[str]:
        return [c for c in self.calls if c not in self.READS]


class AuvoLikeReads:
    """Answers reads as Auvo would: the known records, 404 for other ids, 400 for ids that are not ids."""

    def get_customer(self, customer_id: int | str) -> dict[str, Any]:
        return self._read(customer_id, {7_340_001: CUSTOMER})

    def get_task(self, task_id: int | str) -> dict[str, Any]:
        return self._read(task_id, {9_100_001: TASK})

    def iter_group_clients(self, group_id: int | str) -> Iterator[dict[str, Any]]:
        return iter([{"id": 7_340_001}])

    def _read(self, record_id: Any, known: dict[int, dict[str, Any]]) -> dict[str, Any]:
        text = str(record_id)
        if not text.isascii() or not text.isdigit():
            raise ApiRejected(
                f"Auvo rejected GET /{text[:20]} (400): The request is invalid.", http_status=400
            )
        if int(text) not in known:
            raise NotFound("gone", http_status=404)
        return known[int(text)]


def receiver_app(
    store_path: Path, max_body_bytes: int = MAX_BODY
) -> tuple[AsgiDriver, Recorder, WatchedStore]:
    """Both routes on a real store (SQLite at `store_path`) and a recording publisher; also used by
    the findings' examples and the atheris targets."""
    store = WatchedStore(Store(f"sqlite:///{store_path}"))
    recorder = Recorder()
    receiver = WebhookReceiver(
        publisher=recorder,
        store=store,  # type: ignore[arg-type]
        auvo_events=AuvoEvents(AuvoLikeReads(), TaskRules(enabled=True), customers_enabled=True),
        bling_keeper=BlingIdMapKeeper(store),  # type: ignore[arg-type]
        bling_client_secret=SECRET,
        auvo_secret=AUVO_SECRET,
        max_body_bytes=max_body_bytes,
        clock=lambda: NOW,
    )
    return AsgiDriver(create_webhook_app(receiver)), recorder, store
