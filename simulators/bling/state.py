"""The Bling simulator's state: accounts, records, tokens, quotas and faults, behind one lock."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from copy import deepcopy
from datetime import date, datetime
from pathlib import Path
from typing import Any

from simulators.bling.common import (
    ALL_SCOPES,
    FIRST_ID,
    SCOPE_BY_RESOURCE,
    WEBHOOK_RESOURCES,
    App,
    Grant,
    oauth_error,
)
from simulators.bling.ip_limits import IpLimits
from simulators.bling.resources import RESOURCES
from simulators.bling.schema import SchemaBook, load_openapi
from simulators.documents import bling_openapi
from simulators.faults import FaultInjector, SlidingWindowLimiter, brasilia_now
from simulators.webhooks import WebhookSender

# --- state ----------------------------------------------------------------------------------------


class BlingState:
    """One simulated Bling account (company) with its registered OAuth apps and its data."""

    def __init__(
        self,
        *,
        access_token_ttl: int = 21600,
        refresh_token_ttl: int = 30 * 86400,
        code_ttl: int = 60,
        rate_limit_per_second: int = 3,
        daily_limit: int = 120_000,
        token_calls_per_minute: int = 20,
        token_block_seconds: int = 3600,
        ip_requests_per_10s: int = 600,
        ip_errors_per_10s: int = 300,
        ip_block_seconds: int = 600,
        validate_documents: bool = False,
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
        openapi_path: str | Path | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.code_ttl = code_ttl
        self.daily_limit = daily_limit
        self.validate_documents = validate_documents
        self.deny_authorization = False
        self.faults = FaultInjector(seed)
        # signed notifications for produtos and pedidos (configure with `configure_webhooks`)
        self.webhooks = WebhookSender(seed=seed)
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.schemas = SchemaBook(load_openapi(str(openapi_path)) if openapi_path else bling_openapi())
        self._rng = random.Random(seed)
        self._clock: Callable[[], datetime] = clock or brasilia_now
        self._rate = SlidingWindowLimiter(rate_limit_per_second, 1.0)
        # per IP, whatever the account: token calls, requests and errors (simulators/bling/ip_limits.py)
        self.ip = IpLimits(
            token_calls_per_minute=token_calls_per_minute,
            token_block_seconds=token_block_seconds,
            requests_per_10s=ip_requests_per_10s,
            errors_per_10s=ip_errors_per_10s,
            burst_block_seconds=ip_block_seconds,
        )
        self._daily: tuple[date, int] = (date.min, 0)
        # requests answered 429, by limit ("second" / "day"), and when (clock seconds) the daily
        # limit was answered: what a test counts as probes while the day's quota is spent
        self.refused: Counter[str] = Counter()
        self.daily_refused_at: list[float] = []
        self.apps: dict[str, App] = {}
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.token_calls = 0
        self.contacts: dict[int, dict[str, Any]] = {}
        self.records: dict[str, dict[int, dict[str, Any]]] = {
            r: {} for r in SCOPE_BY_RESOURCE if r != "contatos"
        }
        self.invoices: dict[int, dict[str, Any]] = {}  # notas fiscais issued (simulators/bling/invoices.py)
        self.writes: Counter[tuple[str, str]] = Counter()
        self.calls: Counter[tuple[str, str]] = Counter()
        self._next_id = FIRST_ID
        self._next_numero: dict[str, int] = {"pedidos/vendas": 1001, "propostas-comerciais": 501}

    # -- configuration and time ------------------------------------------------------------------

    @property
    def rate_limit_per_second(self) -> int:
        return self._rate.limit

    @rate_limit_per_second.setter
    def rate_limit_per_second(self, value: int) -> None:
        self._rate = SlidingWindowLimiter(value, 1.0)

    @property
    def token_calls_per_minute(self) -> int:
        return self.ip.limit("token_calls")

    @token_calls_per_minute.setter
    def token_calls_per_minute(self, value: int) -> None:
        self.ip.set_limit("token_calls", value)

    @property
    def token_block_seconds(self) -> float:
        return self.ip.token_block_seconds

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        """Use `clock()` (naive Brasília datetime) for timestamps, token expiry and every limit."""
        self._clock = clock

    def now(self) -> datetime:
        return self._clock().replace(microsecond=0)

    def _ts(self) -> float:
        return self._clock().timestamp()

    def _token(self, prefix: str) -> str:
        return f"{prefix}{self._rng.getrandbits(160):040x}"

    # -- OAuth -------------------------------------------------------------------------------------

    def register_app(
        self, client_id: str, client_secret: str, redirect_uri: str, scopes: list[str] | None = None
    ) -> App:
        app = App(client_id, client_secret, redirect_uri, tuple(scopes if scopes is not None else ALL_SCOPES))
        with self.lock:
            self.apps[client_id] = app
        return app

    def authorize(self, client_id: str) -> str:
        """The code a user's consent would produce (what the authorize redirect carries)."""
        with self.lock:
            app = self.apps[client_id]
            code = self._token("")[:32]
            self.codes[code] = Grant(client_id, app.scopes, self._ts() + self.code_ttl)
            return code

    def grant_tokens(self, client_id: str) -> dict[str, Any]:
        """Issue an access/refresh pair directly (tests that do not care about the OAuth dance)."""
        with self.lock:
            return self._issue(client_id, self.apps[client_id].scopes)

    def _issue(self, client_id: str, scopes: tuple[str, ...]) -> dict[str, Any]:
        access, refresh = self._token(""), self._token("")
        now = self._ts()
        self.access_tokens[access] = Grant(client_id, scopes, now + self.access_token_ttl)
        self.refresh_tokens[refresh] = Grant(client_id, scopes, now + self.refresh_token_ttl)
        return {"access_token": access, "expires_in": self.access_token_ttl, "token_type": "Bearer",
                "scope": " ".join(scopes), "refresh_token": refresh}

    def exchange_code(self, client_id: str, code: str) -> dict[str, Any]:
        with self.lock:
            grant = self.codes.pop(code, None)  # single use, even when it then fails
            if grant is None or grant.client_id != client_id or grant.expires_at <= self._ts():
                raise oauth_error(400, "invalid_grant", "Invalid authorization code")
            return self._issue(client_id, grant.scopes)

    def refresh(self, client_id: str, refresh_token: str) -> dict[str, Any]:
        with self.lock:
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.client_id != client_id or grant.expires_at <= self._ts():
                raise oauth_error(400, "invalid_grant", "Invalid refresh token")
            del self.refresh_tokens[refresh_token]  # rotation: the old one dies now
            return self._issue(client_id, grant.scopes)

    def revoke_authorization(self, client_id: str | None = None) -> None:
        """The user removed the app in Bling: refresh fails with invalid_grant, tokens answer 401."""
        with self.lock:
            for table in (self.codes, self.access_tokens, self.refresh_tokens):
                for key in [k for k, g in table.items() if client_id in (None, g.client_id)]:
                    del table[key]

    def expire_access_tokens(self) -> None:
        """Every access token expires now (refresh tokens keep working): "6 hours later"."""
        with self.lock:
            self.access_tokens = {k: Grant(g.client_id, g.scopes, 0.0) for k, g in self.access_tokens.items()}

    def check_access(self, token: str) -> Grant:
        with self.lock:
            grant = self.access_tokens.get(token)
            if grant is None:
                raise oauth_error(401, "invalid_token", "The access token provided is invalid")
            if grant.expires_at <= self._ts():
                raise oauth_error(401, "invalid_token", "The access token provided has expired")
            return grant

    def ip_admit(self, ip: str, *, token_call: bool = False) -> bool:
        """Count a request (a token call) from `ip` against its per-IP limits; False: IP blocked."""
        with self.lock:
            if token_call:
                self.token_calls += 1
            return self.ip.admit(ip, self._ts(), token_call=token_call)

    def ip_answered(self, ip: str, status: int) -> None:
        with self.lock:
            self.ip.answered(ip, status, self._ts())

    def ip_block_reason(self, ip: str) -> str:
        with self.lock:
            reasons = [b.reason for b in self.ip.blocks if b.ip == ip]
            return reasons[-1] if reasons else "requests"

    def account_request_allowed(self) -> str | None:
        """None when the account may make this request, else which limit it hit ("second"/"day")."""
        with self.lock:
            today = self.now().date()
            day, count = self._daily if self._daily[0] == today else (today, 0)
            if count >= self.daily_limit:
                self.refused["day"] += 1
                self.daily_refused_at.append(self._ts())
                return "day"
            if not self._rate.hit("account", self._ts()):
                self.refused["second"] += 1
                return "second"
            self._daily = (day, count + 1)
            return None

    def spend_daily(self, calls: int) -> None:
        """Count `calls` against today's daily limit, as the account's other apps would."""
        with self.lock:
            today = self.now().date()
            day, count = self._daily if self._daily[0] == today else (today, 0)
            self._daily = (day, count + calls)

    def daily_used(self) -> int:
        with self.lock:
            day, count = self._daily
            return count if day == self.now().date() else 0

    # -- records -----------------------------------------------------------------------------------

    def new_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def add_contact(self, **fields: Any) -> dict[str, Any]:
        """Create a contact as if typed into Bling; returns a copy of the stored record."""
        with self.lock:
            return self.store_body("contatos", self.new_id(), fields, created=True)

    def update_contact(self, contact_id: int, **changes: Any) -> dict[str, Any]:
        """Change fields as a Bling user would; bumps the contact's modification time."""
        with self.lock:
            record = self.contacts[contact_id]
            record.update(deepcopy(changes))
            record["_dataAlteracao"] = self.now()
            return public(record)

    def delete_contact(self, contact_id: int) -> bool:
        with self.lock:
            return self.contacts.pop(contact_id, None) is not None

    def add_record(self, resource: str, data: dict[str, Any]) -> dict[str, Any]:
        """Create a produto / pedido de venda / proposta / conta a pagar (derived fields filled in)."""
        with self.lock:
            return self.store_body(resource, self.new_id(), data, created=True)

    def update_record(self, resource: str, record_id: int, **changes: Any) -> dict[str, Any]:
        with self.lock:
            record = self.records[resource][record_id]
            record.update(deepcopy(changes))
            RESOURCES[resource].derive(self, record)
            record["_dataAlteracao"] = self.now()
            self._notify(resource, "updated", record)
            return public(record)

    def delete_record(self, resource: str, record_id: int) -> bool:
        """Delete as a Bling user would (also what `DELETE /{resource}/{id}` does)."""
        with self.lock:
            record = self.table(resource).pop(record_id, None)
            if record is not None:
                self._notify(resource, "deleted", record)
            return record is not None

    # -- what a Bling user does to a pedido we wrote (simulators/bling/invoices.py) ---------------

    def set_order_situation(self, order_id: int, situacao_id: int) -> dict[str, Any]:
        from simulators.bling.invoices import set_order_situation

        return set_order_situation(self, order_id, situacao_id)

    def issue_invoice(self, order_id: int) -> dict[str, Any]:
        from simulators.bling.invoices import issue_invoice

        return issue_invoice(self, order_id)

    # -- webhooks ----------------------------------------------------------------------------------

    def configure_webhooks(
        self, url: str | None, client_id: str | None = None, *, secret: str | None = None
    ) -> None:
        """Send notifications to `url`, signed with the client secret of the app `client_id`.

        Like the Bling app page: one URL per app, and Bling signs with that app's client secret.
        """
        with self.lock:
            self.webhook_url = url
            if secret is None and client_id is not None:
                secret = self.apps[client_id].client_secret
            self.webhook_secret = secret

    def _notify(self, resource: str, action: str, record: dict[str, Any]) -> None:
        """Queue `{"event": "order.updated", "data": {...}, ...}`, signed; never blocks (lock held)."""
        kind = WEBHOOK_RESOURCES.get(resource)
        if kind is None or not self.webhook_url or not self.webhook_secret:
            return
        data = {"id": record["id"]} if action == "deleted" else public(record)
        self._send_notification(f"{kind}.{action}", data)

    def move_stock(self, product_id: int, balance: float, *, deposit_id: int = 1) -> dict[str, Any]:
        """A stock movement (a sale, an entry) leaving `balance`: the produto's `estoque` changes but
        not its `dataAlteracao` (Bling stamps edits of the produto, not movements), and a
        `stock.updated` notification names the produto and its balances, as Bling's does."""
        with self.lock:
            record = self.records["produtos"][product_id]
            record["estoque"]["saldoVirtualTotal"] = float(balance)
            if self.webhook_url and self.webhook_secret:
                amount = float(balance)
                self._send_notification("stock.updated", {
                    "produto": {"id": product_id, "codigo": record.get("codigo", "")},
                    "deposito": {"id": deposit_id, "saldoFisico": amount, "saldoVirtual": amount},
                    "saldoFisicoTotal": amount,
                    "saldoVirtualTotal": amount,
                })
            return public(record)

    def _send_notification(self, event: str, data: dict[str, Any]) -> None:
        assert self.webhook_url and self.webhook_secret
        body = json.dumps({
            "eventId": f"{self._rng.getrandbits(128):032x}",
            "date": self.now().isoformat() + "-03:00",
            "version": "v1",
            "event": event,
            "companyId": "sim-company",
            "data": data,
        }).encode()
        digest = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        self.webhooks.send(self.webhook_url, body, {"X-Bling-Signature-256": f"sha256={digest}"})

    def table(self, resource: str) -> dict[int, dict[str, Any]]:
        return self.contacts if resource == "contatos" else self.records[resource]

    def store_body(
        self, resource: str, record_id: int, body: dict[str, Any], *, created: bool
    ) -> dict[str, Any]:
        """Full replacement of a record from a request body (POST, PUT, or a test hook)."""
        spec = RESOURCES[resource]
        table = self.table(resource)
        previous = table.get(record_id)
        record = _deep_merge(spec.template(self), {k: v for k, v in deepcopy(body).items() if k != "id"})
        record["id"] = record_id
        spec.derive(self, record)
        now = self.now()
        record["_dataInclusao"] = now if created or previous is None else previous["_dataInclusao"]
        record["_dataAlteracao"] = now
        table[record_id] = record
        self._notify(resource, "created" if created or previous is None else "updated", record)
        return public(record)

    def next_numero(self, resource: str) -> int:
        value = self._next_numero[resource]
        self._next_numero[resource] = value + 1
        return value


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the API shows it: a deep copy without our `_` bookkeeping keys."""
    return {k: deepcopy(v) for k, v in record.items() if not k.startswith("_")}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Template defaults under the given values (nested objects merged, lists and scalars replaced)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
