"""The Auvo simulator's constants and its validation error."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

API_DEACTIVATED_MESSAGE = "Object reference not set to an instance of an object."
RATE_LIMIT_BODY = {"error": "Rate limit temporarily exceeded"}
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
LOGIN_DATE_FMT = "%Y-%m-%d %H:%M:%S"
MAX_PAGE_SIZE = 100

# Field order follows the blueprint's Customer model, so answers read like its examples.
CUSTOMER_FIELDS: tuple[str, ...] = (
    "id", "externalId", "description", "cpfCnpj", "phoneNumber", "email", "manager",
    "managerJobPosition", "note", "address", "latitude", "longitude", "maximumVisitTime",
    "unitMaximumTime", "groupsId", "managerTeamsId", "managersId", "segmentId", "active",
    "adressComplement", "creationDate", "contacts", "dateLastUpdate", "uriAnexos",
)

ID_KEYS: dict[str, str] = {
    "customers": "id",
    "customerGroups": "id",
    "taskTypes": "id",
    "tasks": "taskID",
    "quotations": "publicId",
    "products": "productId",
    "services": "id",
    "expenses": "id",
    "webHooks": "id",
    "keywords": "id",
}
GUID_IDS = frozenset({"products", "services"})

Handler = Callable[[Request], Awaitable[Response]]


class AuvoValidationError(Exception):
    """A 400 in the blueprint's style: `{"field": ["message", ...]}`."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(json.dumps(errors))
        self.errors = errors
