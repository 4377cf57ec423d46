"""The Auvo simulator's state: accounts, records, tokens, quotas, webhooks and faults, behind one lock."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any

from simulators.auvo.common import DATE_FMT, GUID_IDS, ID_KEYS
from simulators.auvo.templates import TEMPLATES, _customer_template, _guid, public
from simulators.auvo.validation import (
    NOTIFIER_ENTITY_TYPES,
    WEBHOOK_ACTIONS,
    WEBHOOK_ENTITIES,
    _canonical,
    _normalize_customer_fields,
)
from simulators.faults import FaultInjector, SlidingWindowLimiter, brasilia_now
from simulators.webhooks import WebhookSender

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
            "services": 1, "keywords": 41, "seq": 1,
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
