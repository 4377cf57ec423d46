"""In-memory simulator of the Auvo API v2 (field service SaaS), served by Starlette under `/v2`.

Why it exists: tests, the demo and benchmarks need an Auvo that behaves like the real one *in the
ways that break integrations*: 30-minute tokens without refresh, 200 + `authenticated: false` on
wrong credentials, a 403 rate limit (not 429), lists that answer 404 instead of an empty page,
naive Brasília timestamps, and the deactivated-API .NET error. It follows
`simulators/specs/auvo-v2.apib` plus `simulators/specs/README.md`, nothing more.

Public surface (everything lives on the state object, no module globals, so several simulators can
run in one process):

- `AuvoState(api_key, api_token, *, token_ttl_seconds=1800, rate_limit_per_minute=400, seed=0,
  clock=None)`; attributes `customers` (dict id -> record), `records[resource]` for the other
  resources, `writes` (Counter of (METHOD, resource)), `calls` (Counter of (METHOD, resource),
  reads and writes), `logins`, `faults` (`simulators.faults.FaultInjector`), `api_deactivated`,
  `login_unknown_key_404`; methods `add_customer`, `update_customer`, `delete_customer`,
  `add_record`, `update_record`, `add_task`, `set_clock`, `now`, `issue_token`, `expire_tokens`.
- `create_auvo_app(state)` -> Starlette app; base path `/v2` (a client's base URL is
  `http://127.0.0.1:PORT/v2`).
- Webhooks: `POST /webHooks/` and `DELETE /webHooks/{id}` (or `state.add_webhook`) register them;
  every change of a customer or task then queues the blueprint's notifier body for each active
  webhook on that (entity, action), delivered by `state.webhooks` (`simulators.webhooks`: a
  background sender with configurable duplicates and out-of-order deliveries).

Choices where the documents are silent (kept deliberately boring):

- Deactivated API (`state.api_deactivated = True`): login and every other call answer HTTP 500 with
  `{"message": "Object reference not set to an instance of an object."}` - the .NET
  NullReferenceException text the activation guide shows, as an unhandled-exception 500.
- Missing/expired/unknown bearer token: 401 with an empty body and `WWW-Authenticate: Bearer`
  (ASP.NET's JWT middleware default).
- Rate limit: sliding 60 s window per client IP over *all* requests, login included; over it 403
  `{"error": "Rate limit temporarily exceeded"}` (the rejected request is not counted).
- 404 answers (absent record, empty list, page past the end) have an empty body, as in the blueprint.
- `PUT /customers/` merges the fields it is given into the existing customer (the blueprint does not
  say "replace"; merging never wipes data a client did not mention). `POST` requires `name`, `PUT`
  requires `description` (as the blueprint's attributes say). POST and PATCH answers carry both
  `description` and `name` because the blueprint's examples for those two show `name`.
- paramFilter keys and query parameter names are matched case-insensitively (ASP.NET binding).
  `creationDate` and `dateLastUpdate` filters mean ">= the given instant". Unknown keys are ignored.
- Tasks list: `status` defaults to 4 (all); 5 = with pendency, 6 = checked in (started or ended);
  1 (finished automatically) is a finished task with `checkOut`, 2 (manually) one without.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulators.faults import FaultInjector, SlidingWindowLimiter, brasilia_now
from simulators.webhooks import WebhookSender

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
}
GUID_IDS = frozenset({"products", "services"})

Handler = Callable[[Request], Awaitable[Response]]


class AuvoValidationError(Exception):
    """A 400 in the blueprint's style: `{"field": ["message", ...]}`."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(json.dumps(errors))
        self.errors = errors


# --- state ----------------------------------------------------------------------------------------


class AuvoState:
    """Everything one simulated Auvo account holds; safe to poke from test threads (one RLock)."""

    def __init__(
        self,
        api_key: str = "sim-api-key",
        api_token: str = "sim-api-token",
        *,
        token_ttl_seconds: int = 1800,
        rate_limit_per_minute: int = 400,
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.api_key = api_key
        self.api_token = api_token
        self.token_ttl_seconds = token_ttl_seconds
        self.api_deactivated = False
        self.login_unknown_key_404 = False
        self.faults = FaultInjector(seed)
        # notifications to the URLs registered through POST /webHooks (see `_notify`)
        self.webhooks = WebhookSender(seed=seed)
        self._rng = random.Random(seed)
        self._clock: Callable[[], datetime] = clock or brasilia_now
        self._limiter = SlidingWindowLimiter(rate_limit_per_minute, 60.0)
        self.tokens: dict[str, datetime] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.records: dict[str, dict[Any, dict[str, Any]]] = {r: {} for r in ID_KEYS if r != "customers"}
        self.writes: Counter[tuple[str, str]] = Counter()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.logins = 0
        self._next_id: dict[str, int] = {
            "customers": 7_340_001, "contacts": 23_001, "customerGroups": 101, "taskTypes": 201,
            "tasks": 9_100_001, "quotations": 5_001, "expenses": 801, "webHooks": 301, "products": 1,
            "services": 1, "seq": 1,
        }

    # -- configuration -----------------------------------------------------------------------------

    @property
    def rate_limit_per_minute(self) -> int:
        return self._limiter.limit

    @rate_limit_per_minute.setter
    def rate_limit_per_minute(self, value: int) -> None:
        self._limiter = SlidingWindowLimiter(value, 60.0)

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """Use `clock()` (naive Brasília datetime) for timestamps, token expiry and the rate window."""
        self._clock = clock

    def now(self) -> datetime:
        return self._clock().replace(microsecond=0)

    def now_str(self) -> str:
        return self.now().strftime(DATE_FMT)

    # -- tokens ------------------------------------------------------------------------------------

    def issue_token(self) -> tuple[str, datetime, datetime]:
        with self.lock:
            created = self.now()
            expiration = created + timedelta(seconds=self.token_ttl_seconds)
            token = f"sim.{self._rng.getrandbits(64):016x}.{self._rng.getrandbits(128):032x}"
            self.tokens[token] = expiration
            self.logins += 1
            return token, created, expiration

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiration = self.tokens.get(token)
            return expiration is not None and self.now() < expiration

    def expire_tokens(self) -> None:
        """Make every issued token stale at once (a test shortcut for "30 minutes later")."""
        with self.lock:
            self.tokens.clear()

    def allow_request(self, client_ip: str) -> bool:
        return self._limiter.hit(client_ip, self._clock().timestamp())

    def _new_id(self, kind: str) -> Any:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        if kind in GUID_IDS:
            return _guid(self._rng)
        return value

    def _seq(self) -> int:
        value = self._next_id["seq"]
        self._next_id["seq"] = value + 1
        return value

    # -- customers (test hooks and HTTP handlers share these) --------------------------------------

    def add_customer(self, description: str = "Cliente", **fields: Any) -> dict[str, Any]:
        """Create a customer as if typed into Auvo's UI; returns a copy of the stored record."""
        with self.lock:
            now = self.now_str()
            record = _customer_template()
            record.update(_normalize_customer_fields(fields))
            record["description"] = description
            record["id"] = self._new_id("customers")
            record["contacts"] = self._assign_contact_ids(record.get("contacts") or [])
            record["creationDate"] = fields.get("creationDate") or now
            record["dateLastUpdate"] = fields.get("dateLastUpdate") or now
            record["_seq"] = self._seq()
            self.customers[record["id"]] = record
            self._notify("Customer", "Inclusao", record)
            return public(record)

    def update_customer(self, customer_id: int, **changes: Any) -> dict[str, Any]:
        """Change fields as a user of Auvo would; bumps dateLastUpdate (unless given explicitly)."""
        with self.lock:
            record = self.customers[customer_id]
            changes = _normalize_customer_fields(changes)
            if "contacts" in changes:
                changes["contacts"] = self._assign_contact_ids(changes["contacts"] or [])
            record.update(changes)
            if "dateLastUpdate" not in changes:
                record["dateLastUpdate"] = self.now_str()
            self._notify("Customer", "Alteracao", record)
            return public(record)

    def delete_customer(self, customer_id: int) -> bool:
        with self.lock:
            record = self.customers.pop(customer_id, None)
            if record is not None:
                self._notify("Customer", "Exclusao", record)
            return record is not None

    def find_customer_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        with self.lock:
            for record in self.customers.values():
                if external_id and record.get("externalId") == external_id:
                    return record
            return None

    def _assign_contact_ids(self, contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for contact in contacts:
            item = {"id": contact.get("id") or self._new_id("contacts"), "name": contact.get("name", ""),
                    "jobPosition": contact.get("jobPosition") or "", "email": contact.get("email") or "",
                    "phone": contact.get("phone") or ""}
            out.append(item)
        return out

    def attachment_uri(self, name: str) -> str:
        ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
        return f"https://auvo-producao.s3.amazonaws.com/anexos_clientes/{_guid(self._rng)}.{ext}"

    # -- other resources -----------------------------------------------------------------------------

    def add_record(self, resource: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store a record of another resource, filled from the blueprint's template for it."""
        with self.lock:
            record = deepcopy(TEMPLATES[resource](self))
            record.update(deepcopy(data))
            id_key = ID_KEYS[resource]
            if data.get(id_key) is None:
                record[id_key] = self._new_id(resource)
            record["_seq"] = self._seq()
            self.records[resource][record[id_key]] = record
            if resource == "tasks":
                self._notify("Task", "Inclusao", record)
            return public(record)

    def update_record(self, resource: str, record_id: Any, **changes: Any) -> dict[str, Any]:
        """Change a record; bumps its dateLastUpdate when the resource has one."""
        with self.lock:
            record = self.records[resource][record_id]
            record.update(deepcopy(changes))
            if "dateLastUpdate" in record and "dateLastUpdate" not in changes:
                record["dateLastUpdate"] = self.now_str()
            if resource == "tasks":
                self._notify("Task", "Alteracao", record)
            return public(record)

    # -- webhooks ----------------------------------------------------------------------------------

    def add_webhook(self, entity: str, action: str, target_url: str, active: bool = True) -> dict[str, Any]:
        """Register a webhook as `POST /webHooks/` does (entity/action normalised to the blueprint's)."""
        return self.add_record(
            "webHooks",
            {"entity": _canonical(entity, WEBHOOK_ENTITIES), "action": _canonical(action, WEBHOOK_ACTIONS),
             "urlResponse": target_url, "active": active, "creationDate": self.now_str()},
        )

    def _notify(self, entity: str, action: str, record: dict[str, Any]) -> None:
        """Queue the notifier's body for every active webhook on (entity, action); never blocks.

        Called with the lock held, so the snapshot sent is the record as this change left it.
        """
        hooks = [h for h in self.records["webHooks"].values()
                 if h.get("active") in (True, "true")
                 and (h.get("entity"), h.get("action")) == (entity, action)]
        if not hooks:
            return
        entity_id = record.get(ID_KEYS["customers" if entity == "Customer" else "tasks"])
        snapshot = public(record)
        for hook in hooks:
            body = {"result": {
                "EntityType": NOTIFIER_ENTITY_TYPES[entity], "Action": action, "EntityId": entity_id,
                "UserAdminId": hook.get("userId", 1001), "WebhookId": hook["id"], "Date": self.now_str(),
                "Entities": [snapshot],
            }}
            self.webhooks.send(str(hook["urlResponse"]), json.dumps(body).encode())
    def add_task(
        self,
        customerId: int = 0,
        taskType: int = 0,
        *,
        finished: bool = False,
        finishedManually: bool = False,
        days_ago: int = 0,
        **fields: Any,
    ) -> dict[str, Any]:
        """A task for a customer.

        A finished task was finished automatically (the technician's check-out in the app) or
        manually (marked finished without a check-out); `finishedManually` picks the latter, which
        is what the status filter's 1 vs 2 reads (`checkOut`).
        """
        with self.lock:
            customer = self.customers.get(customerId, {})
            task_type = self.records["taskTypes"].get(taskType, {})
            when = (self.now() - timedelta(days=days_ago)).strftime(DATE_FMT)
            data: dict[str, Any] = {
                "customerId": customerId,
                "customerExternalId": customer.get("externalId", ""),
                "customerDescription": customer.get("description", ""),
                "address": customer.get("address", ""),
                "latitude": customer.get("latitude", 0.0),
                "longitude": customer.get("longitude", 0.0),
                "taskType": taskType,
                "taskTypeDescription": task_type.get("description", ""),
                "taskDate": when,
                "creationDate": when,
                "finished": finished,
                "checkIn": finished and not finishedManually,
                "checkOut": finished and not finishedManually,
                "taskStatus": 5 if finished else 1,
            }
            data.update(fields)
            return self.add_record("tasks", data)


# The blueprint's webhook vocabulary: registration uses entity Task/Customer/User (or 4/7/1) and
# actions Inclusao/Alteracao/Exclusao (or 1/2/3); the notifier's EntityType is Portuguese.
WEBHOOK_ENTITIES = {"task": "Task", "4": "Task", "customer": "Customer", "7": "Customer", "user": "User",
                    "1": "User"}
WEBHOOK_ACTIONS = {"inclusao": "Inclusao", "1": "Inclusao", "alteracao": "Alteracao", "2": "Alteracao",
                   "exclusao": "Exclusao", "3": "Exclusao"}
NOTIFIER_ENTITY_TYPES = {"Task": "Tarefas", "Customer": "Cliente", "User": "Usuarios"}


def _canonical(value: Any, names: dict[str, str]) -> str:
    key = str(value).strip().lower()
    if key not in names:
        raise AuvoValidationError({"entity" if names is WEBHOOK_ENTITIES else "action": _not_valid(value)})
    return names[key]


# --- templates (field sets from the blueprint's models) -------------------------------------------


def _customer_template() -> dict[str, Any]:
    return {
        "id": 0, "externalId": "", "description": "", "cpfCnpj": "", "phoneNumber": [], "email": [],
        "manager": "", "managerJobPosition": "", "note": "", "address": "", "latitude": 0.0,
        "longitude": 0.0, "maximumVisitTime": 1, "unitMaximumTime": 1, "groupsId": [], "managerTeamsId": [],
        "managersId": [], "segmentId": 0, "active": True, "adressComplement": "", "creationDate": "",
        "contacts": [], "dateLastUpdate": "", "uriAnexos": [],
    }


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _task_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {
        "taskID": 0, "externalId": "", "idUserFrom": 1001, "idUserTo": 1002,
        "userToName": "Técnico Simulado", "userFromName": "Administrador", "customerId": 0,
        "customerExternalId": "", "customerDescription": "", "taskType": 0, "taskTypeDescription": "",
        "creationDate": now, "taskDate": now, "latitude": 0.0, "longitude": 0.0, "address": "",
        "orientation": "", "priority": 1, "deliveredOnSmarthPhone": True, "deliveredDate": now,
        "finished": False, "report": "", "visualized": True, "visualizedDate": now, "checkIn": False,
        "checkInDate": now, "checkOut": False, "checkOutDate": now, "checkinType": 1, "equipmentsId": [],
        "keyWords": [], "keyWordsDescriptions": [], "inputedKm": 0, "adoptedKm": 0, "attachments": [],
        "questionnaires": [], "signatureUrl": "", "checkInDistance": 0, "checkOutDistance": 0,
        "sendSatisfactionSurvey": False, "survey": "", "taskUrl": "", "pendency": "",
        "dateLastUpdate": now, "ticketId": 0, "ticketTitle": "", "signatureName": "",
        "signatureDocument": "", "expense": "0,00", "duration": "", "durationDecimal": "",
        "displacementStart": "", "products": [], "services": [], "additionalCosts": [],
        "summary": {"totalProducts": 0.0, "totalServices": 0.0, "totalAdditionalCosts": 0.0,
                    "totalValue": 0.0, "discount": {"value": 0.0, "type": "Valor"}},
        "estimatedDuration": "00:00:00", "financialCategory": "", "taskStatus": 1,
    }


def _task_type_template(state: AuvoState) -> dict[str, Any]:
    return {
        "id": 0, "description": "", "creatorId": 1001, "creationDate": state.now_str(),
        "standardTime": "01:00:00", "toleranceTime": "00:15:00", "standardQuestionnaireId": 0,
        "active": True, "sendSatisfactionSurvey": False,
        "requirements": {"fillReport": True, "getSignature": False, "fillRolledKilometer": False,
                         "emailTheTask": False, "minimumNumberOfPhotos": 0, "requiredQuestionnaires": []},
    }


def _quotation_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {
        "publicId": 0, "customerId": 0, "customerName": "", "taskID": 0, "descount": "0.00",
        "requesterUserId": 1001, "observations": "", "registerDate": now, "requestDate": now,
        "aditionalCosts": [], "alterations": [], "products": [], "contacts": [],
        "summary": {"totalProducts": 0.0, "totalServices": 0.0, "totalAdditionalCosts": 0.0,
                    "netTotalValue": 0.0, "grossTotalValue": 0.0,
                    "discount": {"type": "Monetario", "value": 0.0}},
        "CurrentStage": {"id": 1, "description": "Em aberto", "position": 1, "changeStock": False,
                         "isCancelled": False, "editAllowed": True},
    }


def _product_template(state: AuvoState) -> dict[str, Any]:
    return {
        "productId": "", "externalId": "", "code": "", "name": "", "associatedEquipmentId": 0,
        "categoryId": 0, "unitaryValue": "0,00", "unitaryCost": "0,00", "totalStock": 0, "active": True,
        "minimumStock": "0", "Base64Image": "", "uriAnexos": [], "productSpecifications": [],
        "employeesStock": [],
    }


def _service_template(state: AuvoState) -> dict[str, Any]:
    return {"id": "", "title": "", "description": "", "price": "0.00", "active": True,
            "fiscalServiceId": "00000000-0000-0000-0000-000000000000"}


def _expense_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {"id": 0, "description": "", "userToId": 1002, "userToName": "Técnico Simulado", "typeId": 1,
            "typeName": "Despesa de viagem", "date": now, "attachmentUrl": "", "creationDate": now,
            "amount": 0}


def _webhook_template(state: AuvoState) -> dict[str, Any]:
    now = state.now_str()
    return {"id": 0, "userId": 1001, "entity": "Task", "action": "Inclusao", "urlResponse": "",
            "creationDate": now, "deleteDate": now, "active": True}


def _group_template(state: AuvoState) -> dict[str, Any]:
    return {"id": 0, "description": ""}


TEMPLATES: dict[str, Callable[[AuvoState], dict[str, Any]]] = {
    "customerGroups": _group_template,
    "taskTypes": _task_type_template,
    "tasks": _task_template,
    "quotations": _quotation_template,
    "products": _product_template,
    "services": _service_template,
    "expenses": _expense_template,
    "webHooks": _webhook_template,
}


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the API shows it: a deep copy without our private `_` bookkeeping keys."""
    return {k: deepcopy(v) for k, v in record.items() if not k.startswith("_")}


# --- customer field validation --------------------------------------------------------------------

_CANONICAL = {name.lower(): name for name in (*CUSTOMER_FIELDS, "name", "attachments")}


def _normalize_customer_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Map keys case-insensitively to the blueprint's spelling (ASP.NET binds them that way)."""
    return {_CANONICAL.get(k.lower(), k): v for k, v in fields.items()}


def _not_valid(value: Any) -> list[str]:
    return [f"The value '{value}' is not valid."]


def _coerce_field(name: str, value: Any) -> Any:
    """Validate one customer field; returns the stored value or raises AuvoValidationError."""
    kind = _FIELD_KINDS.get(name)
    if kind is None:
        return value
    coerced = kind(value)
    if coerced is _INVALID:
        raise AuvoValidationError({name: _not_valid(value)})
    return coerced


_INVALID = object()


def _as_str(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    return _INVALID


def _as_int(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return _INVALID


def _as_number(value: Any) -> Any:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return _INVALID
    try:
        return float(value)
    except (TypeError, ValueError):
        return _INVALID


def _as_bool(value: Any) -> Any:
    if value is None:
        return True
    return value if isinstance(value, bool) else _INVALID


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            return _INVALID
        out = [item(v) for v in value]
        return _INVALID if any(v is _INVALID for v in out) else out

    return convert


def _as_str_strict(value: Any) -> Any:
    return value if isinstance(value, str) else _INVALID


def _as_int_strict(value: Any) -> Any:
    return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID


_FIELD_KINDS: dict[str, Callable[[Any], Any]] = {
    "externalId": _as_str, "description": _as_str, "cpfCnpj": _as_str,
    "phoneNumber": _list_of(_as_str_strict), "email": _list_of(_as_str_strict), "manager": _as_str,
    "managerJobPosition": _as_str, "note": _as_str, "address": _as_str, "latitude": _as_number,
    "longitude": _as_number, "maximumVisitTime": _as_int, "unitMaximumTime": _as_int,
    "groupsId": _list_of(_as_int_strict), "managerTeamsId": _list_of(_as_int_strict),
    "managersId": _list_of(_as_int_strict), "segmentId": _as_int, "active": _as_bool,
    "adressComplement": _as_str,
}

_WRITABLE = frozenset(_FIELD_KINDS)


def _validate_contacts(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise AuvoValidationError({"contacts": _not_valid(value)})
    errors: dict[str, list[str]] = {}
    for i, contact in enumerate(value):
        contact_norm = {k[:1].lower() + k[1:]: v for k, v in contact.items()}
        if not isinstance(contact_norm.get("name"), str) or not contact_norm["name"].strip():
            errors[f"contacts[{i}].name"] = ["The Name field is required."]
    if errors:
        raise AuvoValidationError(errors)
    return [{k[:1].lower() + k[1:]: v for k, v in c.items()} for c in value]


def _validate_attachments(value: Any) -> list[str]:
    """Attachments only need a name with an extension and a base64 payload; we keep the names."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise AuvoValidationError({"attachments": _not_valid(value)})
    names = []
    for i, att in enumerate(value):
        if not isinstance(att, dict) or not att.get("name") or not att.get("file"):
            raise AuvoValidationError({f"attachments[{i}]": ["The name and file fields are required."]})
        names.append(str(att["name"]))
    return names


def validate_customer_body(body: Any, name_field: str) -> tuple[dict[str, Any], list[str]]:
    """Check a POST (`name`) or PUT (`description`) body; returns (fields to store, attachment names)."""
    if not isinstance(body, dict):
        raise AuvoValidationError({"": ["A non-empty request body is required."]})
    fields = _normalize_customer_fields(body)
    name_value = fields.get(name_field)
    if not isinstance(name_value, str) or not name_value.strip():
        raise AuvoValidationError({name_field: [f"The {name_field.capitalize()} field is required."]})
    out: dict[str, Any] = {"description": name_value}
    errors: dict[str, list[str]] = {}
    for key, value in fields.items():
        if key in _WRITABLE and key != "description":
            try:
                out[key] = _coerce_field(key, value)
            except AuvoValidationError as exc:
                errors.update(exc.errors)
    if errors:
        raise AuvoValidationError(errors)
    if "contacts" in fields:
        out["contacts"] = _validate_contacts(fields["contacts"])
    return out, _validate_attachments(fields.get("attachments"))


def validate_patch(body: Any) -> dict[str, Any]:
    """A JSON-patch list of `replace` ops on CustomerPatch attributes -> the changes to apply."""
    if not isinstance(body, list) or not body:
        raise AuvoValidationError({"": ["The JSON patch document must be a non-empty array."]})
    changes: dict[str, Any] = {}
    for i, op in enumerate(body):
        if not isinstance(op, dict):
            raise AuvoValidationError({f"[{i}]": _not_valid(op)})
        kind = str(op.get("op", "")).lower()
        if kind not in ("replace", "add"):
            raise AuvoValidationError({"op": [f"The operation '{op.get('op')}' is not supported."]})
        raw_path = str(op.get("path", "")).strip("/").split("/")[0]
        path = _CANONICAL.get(raw_path.lower(), raw_path)
        if path == "name":
            path = "description"
        if path not in _WRITABLE:
            raise AuvoValidationError({"path": [f"The target location '{raw_path}' was not found."]})
        changes[path] = _coerce_field(path, op.get("value"))
    if "description" in changes and not str(changes["description"]).strip():
        raise AuvoValidationError({"description": ["The Description field is required."]})
    return changes


# --- query helpers --------------------------------------------------------------------------------


def _query(request: Request, name: str) -> str | None:
    """Case-insensitive query parameter lookup (ASP.NET binds `PageSize` and `pagesize` alike)."""
    wanted = name.lower()
    for key, value in request.query_params.multi_items():
        if key.lower() == wanted:
            return value
    return None


def parse_date(value: Any, field: str) -> datetime:
    """Auvo filter dates: `yyyy-MM-ddTHH:mm:ss` (also accepted: a space, or a date alone)."""
    text = str(value).strip()
    for fmt in (DATE_FMT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise AuvoValidationError({field: _not_valid(value)})


def parse_param_filter(request: Request, required: bool = False) -> dict[str, Any]:
    """The URL-encoded JSON `paramFilter`, keys lower-cased; 400 in Auvo's words when unusable."""
    raw = _query(request, "paramFilter")
    if raw is None or not raw.strip():
        if required:
            raise ParamFilterRequired()
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AuvoValidationError({"paramFilter": _not_valid(raw)}) from exc
    if not isinstance(value, dict):
        raise AuvoValidationError({"paramFilter": _not_valid(raw)})
    return {str(k).lower(): v for k, v in value.items()}


class ParamFilterRequired(Exception):
    """The blueprint's 400 for a list that needs a paramFilter and got none."""

    body: ClassVar[dict[str, Any]] = {
        "message": "The paramFilter is required as ParamUserFilter string json.", "target": None,
        "errorCode": 0, "errors": None,
    }


def parse_paging(request: Request) -> tuple[int, int, int]:
    """(page, pageSize, order 0=asc/1=desc) with the blueprint's defaults and a cap of 100."""
    page_raw = _query(request, "page")
    size_raw = _query(request, "pageSize")
    order_raw = (_query(request, "order") or "asc").strip().lower()
    try:
        page = int(page_raw) if page_raw not in (None, "") else 1
    except ValueError as exc:
        raise AuvoValidationError({"page": _not_valid(page_raw)}) from exc
    try:
        size = int(size_raw) if size_raw not in (None, "") else 10
    except ValueError as exc:
        raise AuvoValidationError({"pageSize": _not_valid(size_raw)}) from exc
    if order_raw in ("asc", "0"):
        order = 0
    elif order_raw in ("desc", "1"):
        order = 1
    else:
        raise AuvoValidationError({"order": _not_valid(order_raw)})
    return max(1, page), min(MAX_PAGE_SIZE, max(1, size)), order


def _csv(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _bool_filter(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def _contains(haystack: Any, needle: Any) -> bool:
    return str(needle).lower() in str(haystack or "").lower()


def _int_or_400(value: Any, field: str) -> int:
    coerced = _as_int(value)
    if coerced is _INVALID:
        raise AuvoValidationError({field: _not_valid(value)})
    return int(coerced)


def _on_or_after(stamp: str, value: Any, field: str) -> bool:
    return bool(stamp) and parse_date(stamp, field) >= parse_date(value, field)


# --- per-resource filters -------------------------------------------------------------------------

Predicate = Callable[[dict[str, Any]], bool]


def customer_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    preds: list[Predicate] = []
    if pf.get("id") not in (None, "", 0):
        wanted = _int_or_400(pf["id"], "id")
        preds.append(lambda r: r["id"] == wanted)
    if pf.get("description"):
        preds.append(lambda r: _contains(r["description"], pf["description"]))
    if pf.get("segmentid") not in (None, "", 0):
        seg = _int_or_400(pf["segmentid"], "segmentId")
        preds.append(lambda r: r["segmentId"] == seg)
    for key, field in (("creationdate", "creationDate"), ("datelastupdate", "dateLastUpdate")):
        if pf.get(key):
            parse_date(pf[key], field)
            preds.append(lambda r, k=key, f=field: _on_or_after(r[f], pf[k], f))
    if pf.get("groupid") not in (None, "", 0):
        gid = _int_or_400(pf["groupid"], "groupId")
        preds.append(lambda r: gid in (r.get("groupsId") or []))
    active = _bool_filter(pf.get("active"))
    if active is not None:
        preds.append(lambda r: bool(r["active"]) == active)
    if pf.get("externalid"):
        wanted_ext = set(_csv(pf["externalid"]))
        preds.append(lambda r: r.get("externalId") in wanted_ext)
    return preds


def task_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    missing = {k: [f"The {k[0].upper() + k[1:]} field is required."]
               for k in ("startDate", "endDate") if not pf.get(k.lower())}
    if missing:
        raise AuvoValidationError(missing)
    start = parse_date(pf["startdate"], "startDate")
    end = parse_date(pf["enddate"], "endDate")
    preds: list[Predicate] = [lambda r: start <= parse_date(r["taskDate"], "taskDate") <= end]
    status = _int_or_400(pf.get("status", 4), "status") if pf.get("status") not in (None, "") else 4
    if status not in range(7):
        raise AuvoValidationError({"status": _not_valid(status)})
    preds.append(lambda r: _task_status_matches(r, status))
    simple = {"taskid": "taskID", "iduserto": "idUserTo", "customerid": "customerId", "type": "taskType"}
    for key, field in simple.items():
        if pf.get(key) not in (None, "", 0):
            wanted = _int_or_400(pf[key], field)
            preds.append(lambda r, f=field, w=wanted: r.get(f) == w)
    if pf.get("datelastupdate"):
        parse_date(pf["datelastupdate"], "dateLastUpdate")
        preds.append(lambda r: _on_or_after(r["dateLastUpdate"], pf["datelastupdate"], "dateLastUpdate"))
    if pf.get("externalid"):
        wanted_ext = set(_csv(pf["externalid"]))
        preds.append(lambda r: r.get("externalId") in wanted_ext)
    if pf.get("customergroupid") not in (None, "", 0):
        gid = _int_or_400(pf["customergroupid"], "customerGroupId")
        preds.append(lambda r: gid in (state.customers.get(r["customerId"], {}).get("groupsId") or []))
    if pf.get("priority") not in (None, ""):
        preds.append(lambda r: str(r.get("priority")) == str(pf["priority"]))
    if pf.get("orientation"):
        preds.append(lambda r: _contains(r.get("orientation"), pf["orientation"]))
    return preds


def _task_status_matches(task: dict[str, Any], status: int) -> bool:
    """README: 0 not finished, 1 finished automatically, 2 manually, 3 either, 4 all.

    The blueprint does not say how Auvo tells 1 from 2; the record shows `finished` and `checkOut`,
    and a task finished without a check-out is the one finished by hand (in the web panel).
    """
    finished = bool(task.get("finished"))
    manual = finished and not task.get("checkOut")
    return {
        0: not finished,
        1: finished and not manual,
        2: finished and manual,
        3: finished,
        4: True,
        5: bool(task.get("pendency")),
        6: bool(task.get("checkIn")),
    }[status]


FilterBuilder = Callable[[AuvoState, dict[str, Any]], list[Predicate]]


def _simple_filters(spec: dict[str, tuple[str, str]]) -> FilterBuilder:
    """Filters of the form paramFilter key -> (record field, "eq"|"contains"|"bool"|"csv")."""

    def build(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
        preds: list[Predicate] = []
        for key, (field, how) in spec.items():
            value = pf.get(key.lower())
            if value in (None, ""):
                continue
            if how == "contains":
                preds.append(lambda r, f=field, v=value: _contains(r.get(f), v))
            elif how == "bool":
                wanted = _bool_filter(value)
                preds.append(lambda r, f=field, w=wanted: _bool_filter(r.get(f)) == w)
            elif how == "csv":
                wanted_set = set(_csv(value))
                preds.append(lambda r, f=field, w=wanted_set: str(r.get(f)) in w)
            else:
                preds.append(lambda r, f=field, v=value: str(r.get(f)) == str(v))
        return preds

    return build


def expense_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    missing = {k: [f"The {k[0].upper() + k[1:]} field is required."]
               for k in ("startDate", "endDate") if not pf.get(k.lower())}
    if missing:
        raise AuvoValidationError(missing)
    start = parse_date(pf["startdate"], "startDate")
    end = parse_date(pf["enddate"], "endDate")
    preds = _simple_filters({"id": ("id", "eq"), "description": ("description", "contains"),
                             "userToId": ("userToId", "eq"), "type": ("typeId", "eq")})(state, pf)
    preds.append(lambda r: start <= parse_date(r["date"], "date") <= end)
    return preds


def quotation_filters(state: AuvoState, pf: dict[str, Any]) -> list[Predicate]:
    preds = _simple_filters({"publicId": ("publicId", "eq"), "customersId": ("customerId", "csv"),
                             "usersId": ("requesterUserId", "csv")})(state, pf)
    if pf.get("requeststartdate"):
        start = parse_date(pf["requeststartdate"], "requestStartDate")
        preds.append(lambda r: parse_date(r["requestDate"], "requestDate") >= start)
    if pf.get("requestenddate"):
        end = parse_date(pf["requestenddate"], "requestEndDate")
        preds.append(lambda r: parse_date(r["requestDate"], "requestDate") <= end)
    if pf.get("currentstage"):
        preds.append(lambda r: _contains(r.get("CurrentStage", {}).get("description"), pf["currentstage"]))
    return preds


LIST_FILTERS: dict[str, FilterBuilder] = {
    "customers": customer_filters,
    "customerGroups": _simple_filters({"id": ("id", "eq"), "description": ("description", "contains")}),
    "taskTypes": _simple_filters({"id": ("id", "eq"), "description": ("description", "contains")}),
    "tasks": task_filters,
    "quotations": quotation_filters,
    "products": _simple_filters({"name": ("name", "contains"), "externalId": ("externalId", "csv"),
                                 "id": ("code", "eq"), "categoryId": ("categoryId", "eq"),
                                 "associatedEquipmentId": ("associatedEquipmentId", "eq"),
                                 "active": ("active", "bool")}),
    "services": _simple_filters({"title": ("title", "contains"), "description": ("description", "contains"),
                                 "active": ("active", "bool"), "fiscalServiceId": ("fiscalServiceId", "eq")}),
    "expenses": expense_filters,
    "webHooks": _simple_filters({"id": ("id", "eq"), "entity": ("entity", "eq"), "action": ("action", "eq"),
                                 "active": ("active", "bool")}),
}
# Lists whose paramFilter the blueprint marks as required (answer its 400 when absent).
PARAM_FILTER_REQUIRED = frozenset({"tasks", "webHooks", "expenses"})

# Path segment as the blueprint's `links` spell it.
LINK_NAMES = {"customers": "Customers", "tasks": "Tasks", "taskTypes": "TaskTypes", "products": "Products",
              "services": "Service", "quotations": "quotations", "webHooks": "webHooks",
              "expenses": "Expenses", "customerGroups": "CustomerGroups"}


# --- responses ------------------------------------------------------------------------------------


def _json(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _empty(status: int) -> Response:
    return Response(status_code=status)


def _select(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return record
    wanted = {f.lower() for f in fields}
    return {k: v for k, v in record.items() if k.lower() in wanted}


def paged_result(
    request: Request, resource: str, records: Iterable[dict[str, Any]], param_filter_raw: str | None
) -> Response:
    """The blueprint's list envelope; an empty selection or a page past the end is a bare 404."""
    page, size, order = parse_paging(request)
    ordered = sorted(records, key=lambda r: r.get("_seq", 0), reverse=order == 1)
    total = len(ordered)
    chunk = ordered[(page - 1) * size : page * size]
    if not chunk:
        return _empty(404)
    select = [f.strip() for f in (_query(request, "selectfields") or "").split(",") if f.strip()]
    base = str(request.base_url).rstrip("/") + f"/v2/{LINK_NAMES.get(resource, resource)}/?"

    def link(p: int, rel: str) -> dict[str, str]:
        params = {"ParamFilter": param_filter_raw} if param_filter_raw else {}
        params.update({"Page": str(p), "PageSize": str(size), "Order": "Desc" if order else "Asc"})
        return {"href": base + urlencode(params), "rel": rel, "method": "GET"}

    links = [link(page, "self")]
    if page * size < total:
        links.append(link(page + 1, "nextPage"))
    return _json(200, {"result": {
        "entityList": [_select(public(r), select) for r in chunk],
        "pagedSearchReturnData": {"order": order, "pageSize": size, "page": page, "totalItems": total},
        "links": links,
    }})


# --- the app --------------------------------------------------------------------------------------


def create_auvo_app(state: AuvoState) -> Starlette:
    """Build the Starlette app serving `state` under `/v2` (login, customers and the read-only rest)."""
    h = _Handlers(state)
    routes: list[Route] = []

    def add(path: str, endpoint: Handler, methods: list[str]) -> None:
        # Auvo answers with and without the trailing slash; register both instead of redirecting.
        for variant in {path.rstrip("/") or "/", path.rstrip("/") + "/"}:
            routes.append(Route(variant, endpoint, methods=methods))

    add("/v2/login/", h.guard(h.login, auth=False, resource="login"), ["GET", "POST"])
    add("/v2/customers/", h.guard(h.list_customers, resource="customers"), ["GET"])
    add("/v2/customers/", h.guard(h.create_customer, resource="customers"), ["POST"])
    add("/v2/customers/", h.guard(h.upsert_customer, resource="customers"), ["PUT"])
    add("/v2/customers/{id}", h.guard(h.customer_by_id, resource="customers"), ["GET", "PATCH", "DELETE"])
    add("/v2/customerGroups/", h.guard(h.list_of("customerGroups"), resource="customerGroups"), ["GET"])
    add("/v2/customerGroups/{id}/clients/", h.guard(h.group_clients, resource="customerGroups"), ["GET"])
    for resource in ("taskTypes", "tasks", "quotations", "products", "services", "expenses", "webHooks"):
        add(f"/v2/{resource}/", h.guard(h.list_of(resource), resource=resource), ["GET"])
        add(f"/v2/{resource}/{{id}}", h.guard(h.get_one(resource), resource=resource), ["GET"])
    add("/v2/webHooks/", h.guard(h.create_webhook, resource="webHooks"), ["POST"])
    add("/v2/webHooks/{id}", h.guard(h.delete_webhook, resource="webHooks"), ["DELETE"])
    return Starlette(routes=routes)


class _Handlers:
    """Request handlers closed over one state; the `guard` wrapper applies the cross-cutting rules."""

    def __init__(self, state: AuvoState) -> None:
        self.state = state

    def guard(self, handler: Handler, *, resource: str, auth: bool = True) -> Handler:
        """Deactivated -> 500, rate limit -> 403, faults, bearer token -> 401, 400s from validation."""
        state = self.state

        async def endpoint(request: Request) -> Response:
            if state.api_deactivated:
                return _json(500, {"message": API_DEACTIVATED_MESSAGE})
            client_ip = request.client.host if request.client else "unknown"
            if not state.allow_request(client_ip):
                return _json(403, RATE_LIMIT_BODY)
            await request.body()  # read first: a timed-out write still lands, as a real one does
            fault = await state.faults.apply()
            if fault is not None:
                return _json(fault, {"message": "An error has occurred."})
            if auth and not state.token_valid(_bearer(request)):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
            with state.lock:
                state.calls[(request.method, resource)] += 1
            try:
                return await handler(request)
            except AuvoValidationError as exc:
                return _json(400, exc.errors)
            except ParamFilterRequired as exc:
                return _json(400, exc.body)

        return endpoint

    # -- login -------------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _json_body(request)
            if not isinstance(body, dict):
                raise AuvoValidationError({"": ["A non-empty request body is required."]})
            lowered = {str(k).lower(): v for k, v in body.items()}
            api_key, api_token = lowered.get("apikey"), lowered.get("apitoken")
        else:
            api_key, api_token = _query(request, "apiKey"), _query(request, "apiToken")
        for name, value in (("apiKey", api_key), ("apiToken", api_token)):
            if not isinstance(value, str) or not value.strip():
                raise AuvoValidationError({name: ["The value '\"\"' is not valid."]})
        state = self.state
        if api_key != state.api_key and state.login_unknown_key_404:
            return _empty(404)
        if api_key != state.api_key or api_token != state.api_token:
            return _json(200, {"result": {"authenticated": False, "created": None, "expiration": None,
                                          "accessToken": None, "message": "Invalid apiKey or apiToken."}})
        token, created, expiration = state.issue_token()
        return _json(200, {"result": {
            "authenticated": True,
            "created": created.strftime(LOGIN_DATE_FMT),
            "expiration": expiration.strftime(LOGIN_DATE_FMT),
            "accessToken": token,
            "message": "OK",
        }})

    # -- customers ---------------------------------------------------------------------------------

    async def list_customers(self, request: Request) -> Response:
        state = self.state
        pf = parse_param_filter(request)
        with state.lock:
            preds = customer_filters(state, pf)
            selected = [deepcopy(r) for r in state.customers.values() if all(p(r) for p in preds)]
        return paged_result(request, "customers", selected, _query(request, "paramFilter"))

    async def create_customer(self, request: Request) -> Response:
        fields, attachments = validate_customer_body(await _json_body(request), "name")
        state = self.state
        with state.lock:
            description = fields.pop("description")
            record = state.add_customer(description, **fields)
            if attachments:
                record = state.update_customer(
                    record["id"], uriAnexos=[state.attachment_uri(n) for n in attachments],
                    dateLastUpdate=record["dateLastUpdate"])
            state.writes[("POST", "customers")] += 1
        return _json(201, {"result": _with_name(record)})

    async def upsert_customer(self, request: Request) -> Response:
        body = await _json_body(request)
        fields, attachments = validate_customer_body(body, "description")
        state = self.state
        with state.lock:
            existing = self._find_for_upsert(body)
            state.writes[("PUT", "customers")] += 1
            if existing is None:
                description = fields.pop("description")
                record = state.add_customer(description, **fields)
                status = 201
            else:
                record = state.update_customer(existing["id"], **fields)
                status = 200
            if attachments:
                uris = record["uriAnexos"] + [state.attachment_uri(n) for n in attachments]
                record = state.update_customer(record["id"], uriAnexos=uris,
                                               dateLastUpdate=record["dateLastUpdate"])
        return _json(status, {"result": record})

    def _find_for_upsert(self, body: dict[str, Any]) -> dict[str, Any] | None:
        lowered = {str(k).lower(): v for k, v in body.items()}
        raw_id = lowered.get("id")
        if raw_id not in (None, "", 0):
            customer_id = _int_or_400(raw_id, "id")
            if customer_id in self.state.customers:
                return self.state.customers[customer_id]
        external = lowered.get("externalid")
        if isinstance(external, str) and external:
            return self.state.find_customer_by_external_id(external)
        return None

    async def customer_by_id(self, request: Request) -> Response:
        raw = request.path_params["id"]
        customer_id = _int_or_400(raw, "id") if str(raw).lstrip("-").isdigit() else None
        if customer_id is None:
            raise AuvoValidationError({"id": _not_valid(raw)})
        state = self.state
        if request.method == "GET":
            with state.lock:
                record = state.customers.get(customer_id)
                return _json(200, {"result": public(record)}) if record else _empty(404)
        if request.method == "DELETE":
            with state.lock:
                state.writes[("DELETE", "customers")] += 1
                return _empty(204) if state.delete_customer(customer_id) else _empty(404)
        changes = validate_patch(await _json_body(request))
        with state.lock:
            if customer_id not in state.customers:
                return _empty(404)
            state.writes[("PATCH", "customers")] += 1
            return _json(200, {"result": _with_name(state.update_customer(customer_id, **changes))})

    # -- the read-only resources -----------------------------------------------------------------------

    def list_of(self, resource: str) -> Handler:
        async def handler(request: Request) -> Response:
            state = self.state
            pf = parse_param_filter(request, required=resource in PARAM_FILTER_REQUIRED)
            with state.lock:
                preds = LIST_FILTERS[resource](state, pf)
                table = state.records[resource]
                selected = [deepcopy(r) for r in table.values() if all(p(r) for p in preds)]
            return paged_result(request, resource, selected, _query(request, "paramFilter"))

        return handler

    def get_one(self, resource: str) -> Handler:
        async def handler(request: Request) -> Response:
            raw = str(request.path_params["id"])
            state = self.state
            with state.lock:
                record = self._lookup(resource, raw)
                return _json(200, {"result": public(record)}) if record else _empty(404)

        return handler

    def _lookup(self, resource: str, raw: str) -> dict[str, Any] | None:
        table = self.state.records[resource]
        if resource in GUID_IDS:
            found = table.get(raw)
            if found is None and resource == "products":  # the blueprint also calls `code` its id
                found = next((r for r in table.values() if str(r.get("code")) == raw), None)
            return found
        if not raw.lstrip("-").isdigit():
            raise AuvoValidationError({"id": _not_valid(raw)})
        return table.get(int(raw))

    # -- webhooks ----------------------------------------------------------------------------------------

    async def create_webhook(self, request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise AuvoValidationError({"": ["A non-empty request body is required."]})
        lowered = {str(k).lower(): v for k, v in body.items()}
        missing = {k: ["The field is required."] for k in ("entity", "action", "targetUrl")
                   if lowered.get(k.lower()) in (None, "")}
        if missing:
            raise AuvoValidationError(missing)
        state = self.state
        with state.lock:
            record = state.add_webhook(lowered["entity"], lowered["action"], str(lowered["targeturl"]),
                                       active=_as_bool(lowered.get("active", True)) is not False)
            state.writes[("POST", "webHooks")] += 1
        return _json(201, {"result": record})

    async def delete_webhook(self, request: Request) -> Response:
        raw = str(request.path_params["id"])
        if not raw.isdigit():
            raise AuvoValidationError({"id": _not_valid(raw)})
        state = self.state
        with state.lock:
            state.writes[("DELETE", "webHooks")] += 1
            return _empty(204) if state.records["webHooks"].pop(int(raw), None) is not None else _empty(404)

    async def group_clients(self, request: Request) -> Response:
        raw = str(request.path_params["id"])
        if not raw.isdigit():
            raise AuvoValidationError({"id": _not_valid(raw)})
        group_id = int(raw)
        state = self.state
        with state.lock:
            if group_id not in state.records["customerGroups"]:
                return _empty(404)
            members = [deepcopy(c) for c in state.customers.values() if group_id in (c.get("groupsId") or [])]
        return paged_result(request, "customerGroups", members, None)


def _with_name(record: dict[str, Any]) -> dict[str, Any]:
    """POST/PATCH answers: the blueprint's examples call the customer's name `name` there."""
    out = dict(record)
    out["name"] = record.get("description", "")
    return out


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise AuvoValidationError({"": ["A non-empty request body is required."]})
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AuvoValidationError({"": [f"The JSON value could not be parsed: {exc}"]}) from exc
