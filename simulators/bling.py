"""In-memory simulator of the Bling API v3 (Brazilian ERP), served by Starlette under `/Api/v3`.

Why it exists: the integration must get Bling's OAuth2 right (single-use codes, rotating refresh
tokens, a token-call limit that locks you out for an hour), pace itself under 3 requests/s, page
until an empty `data`, and send bodies that pass Bling's validation. This simulator enforces those
rules from `simulators/specs/bling-v3-openapi.json` and `simulators/specs/README.md` (package
data); request bodies are validated against the document's own request schemas, so a body it
accepts is a body the document allows.

Public surface (all state on the object, nothing global but the parsed, read-only OpenAPI document):

- `BlingState(*, access_token_ttl=21600, refresh_token_ttl=30 days, code_ttl=60,
  rate_limit_per_second=3, daily_limit=120_000, token_calls_per_minute=20, token_block_seconds=3600,
  validate_documents=False, seed=0, clock=None, openapi_path=None)`.
  Attributes: `contacts` (dict id -> stored contact), `records[resource]` for "produtos",
  "pedidos/vendas", "propostas-comerciais", "contas/pagar"; `writes` / `calls` (Counter of
  (METHOD, resource)); `token_calls` (int); `faults` (FaultInjector); `deny_authorization`.
  Methods: `register_app`, `authorize` (code without HTTP), `grant_tokens` (token pair without
  HTTP), `revoke_authorization`, `expire_access_tokens`, `add_contact`, `update_contact`,
  `delete_contact`, `add_record`, `update_record`, `set_clock`, `now`.
- `create_bling_app(state)` -> Starlette app; base path `/Api/v3`.
- Webhooks: `state.configure_webhooks(url, client_id)` makes every change of a produto or pedido de
  venda (created / updated / deleted, by the API or by `add_record` / `update_record` /
  `delete_record`) queue `{"eventId", "date", "version", "event": "order.updated", "companyId",
  "data"}` signed with `X-Bling-Signature-256` (HMAC-SHA256 keyed by that app's client secret),
  delivered by `state.webhooks` from a background thread (duplicates / reordering configurable).

Scopes (the document lists none; these are ours): "contatos" (/contatos), "produtos" (/produtos),
"vendas" (/pedidos/vendas), "propostas" (/propostas-comerciais), "contas_pagar" (/contas/pagar).
An app registered without `scopes` gets all of them.

Choices where the documents are silent or contradict each other:

- Every answer is wrapped in `data`, also where the document's schema forgets the wrapper
  (GET /propostas-comerciais/{id}, POST/PUT /contas/pagar): the README says creates answer
  `{"data": {"id": ...}}`, and Bling wraps everything.
- PUT answers what the document says per operation: 204 for contatos and propostas-comerciais,
  200 with `{"data": {...}}` for produtos, pedidos/vendas and contas/pagar.
- Request validation is the document's, literally, with OpenAPI 3.0 read/write semantics: required
  `readOnly` properties are not required in requests and are ignored when sent. So, as written in the
  document: a contact needs `nome`, `situacao` and `tipo`; a sales order item needs `valorLista`;
  a sales order installment (`parcelas[]`) needs `id`.
- Validation errors: 400 VALIDATION_ERROR, `fields[].code` 1 required / 2 type / 3 enum / 4 other;
  errors inside arrays use `element` = the array and `collection[]` = the items' errors.
- Lists are ordered by id, newest first (the contact list's default criterion is "últimos
  incluídos"); `limite` above 100 is clamped to 100; `pagina` below 1 counts as 1.
- Date filters accept `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (a bare final date means 23:59:59).
- Token-call limit: more than `token_calls_per_minute` calls to /oauth/token from one IP in 60 s
  blocks that IP's token calls for `token_block_seconds`; blocked calls answer 429 TOO_MANY_REQUESTS.
- The per-account limit counts requests that carried a valid token; over it 429 TOO_MANY_REQUESTS.
  IP blocks for error bursts (300 errors in 10 s) are not simulated.
- `validate_documents=True` makes CPF/CNPJ check digits part of validation (real Bling does this;
  the document does not say so, hence off by default).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from simulators.documents import bling_openapi
from simulators.faults import FaultInjector, SlidingWindowLimiter, brasilia_now
from simulators.tax_ids import is_valid_cnpj, is_valid_cpf, only_digits
from simulators.webhooks import WebhookSender

BASE = "/Api/v3"
DATETIME_FMT = "%Y-%m-%d %H:%M:%S"
MAX_LIMIT = 100
FIRST_ID = 16_000_000_001
INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token"

SCOPE_BY_RESOURCE: dict[str, str] = {
    "contatos": "contatos",
    "produtos": "produtos",
    "pedidos/vendas": "vendas",
    "propostas-comerciais": "propostas",
    "contas/pagar": "contas_pagar",
}
ALL_SCOPES: tuple[str, ...] = tuple(SCOPE_BY_RESOURCE.values())

# Resources Bling sends webhooks for (its webhooks cover orders and products, not contacts).
WEBHOOK_RESOURCES: dict[str, str] = {"pedidos/vendas": "order", "produtos": "product"}

Handler = Callable[[Request], Awaitable[Response]]
Predicate = Callable[[dict[str, Any]], bool]


# --- errors ---------------------------------------------------------------------------------------


class BlingError(Exception):
    """Any non-2xx answer in Bling's envelope: `{"error": {"type", "message", "description"[, "fields"]}}`."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        description: str,
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {type_}: {description}")
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type_, "message": message, "description": description}}
        if fields is not None:
            self.body["error"]["fields"] = fields

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def oauth_error(status: int, kind: str, description: str) -> BlingError:
    return BlingError(status, kind, kind, description)


def not_found(what: str) -> BlingError:
    return BlingError(404, "RESOURCE_NOT_FOUND", "Recurso não encontrado",
                      f"O recurso requisitado não foi encontrado: {what}")


def validation_error(what: str, fields: list[dict[str, Any]]) -> BlingError:
    return BlingError(400, "VALIDATION_ERROR", f"Não foi possível salvar {what}",
                      f"Não foi possível salvar {what}, pois ocorreram problemas em sua validação.", fields)


# --- OAuth bookkeeping ----------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    """What a code, access token or refresh token stands for."""

    client_id: str
    scopes: tuple[str, ...]
    expires_at: float


# --- the OpenAPI document -------------------------------------------------------------------------


@lru_cache(maxsize=4)
def load_openapi(path: str) -> dict[str, Any]:
    """Parse the document once per process; it is only ever read."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class SchemaBook:
    """Request validators and list-item field names, derived from the document per operation."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self._validators: dict[tuple[str, str], Any] = {}

    def operation(self, method: str, path: str) -> dict[str, Any]:
        return self.doc["paths"][path][method.lower()]

    def request_validator(self, method: str, path: str) -> Any:
        """OAS30Validator (no read/write flag: skips required readOnly, ignores readOnly sent)."""
        key = (method, path)
        if key not in self._validators:
            schema = self.operation(method, path)["requestBody"]["content"]["application/json"]["schema"]
            wrapper = {"allOf": [schema], "components": self.doc["components"]}
            self._validators[key] = OAS30Validator(wrapper)
        return self._validators[key]

    def list_item_keys(self, path: str) -> tuple[str, ...]:
        """Property names of the list answer's items, in the document's order."""
        schema = self.operation("get", path)["responses"]["200"]["content"]["application/json"]["schema"]
        return tuple(self._property_names(schema["properties"]["data"]["items"]))

    def _property_names(self, schema: dict[str, Any]) -> list[str]:
        if "$ref" in schema:
            return self._property_names(self._resolve(schema["$ref"]))
        names = list(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            names += [n for n in self._property_names(part) if n not in names]
        return names

    def _resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.doc
        for part in ref.lstrip("#/").split("/"):
            node = node[part]
        return node


def schema_errors(validator: Any, body: Any, namespace: str) -> list[dict[str, Any]]:
    """jsonschema errors -> Bling's `fields[]`, grouping errors inside arrays under `collection`."""
    fields: list[dict[str, Any]] = []
    by_array: dict[str, dict[str, Any]] = {}
    for error in sorted(_leaf_errors(validator.iter_errors(body)), key=lambda e: list(map(str, e.path))):
        code, element_path, msg = _describe(error)
        index_pos = next((i for i, p in enumerate(element_path) if isinstance(p, int)), None)
        if index_pos is None:
            element = ".".join(map(str, element_path))
            fields.append({"code": code, "msg": msg, "element": element, "namespace": namespace,
                           "collection": []})
            continue
        array = ".".join(map(str, element_path[:index_pos]))
        field = by_array.get(array)
        if field is None:
            field = {"code": code, "msg": f"Um ou mais itens de {array} possuem erros de validação",
                     "element": array, "namespace": namespace, "collection": []}
            by_array[array] = field
            fields.append(field)
        field["collection"].append({
            "index": element_path[index_pos], "code": code, "msg": msg,
            "element": ".".join(map(str, element_path[index_pos + 1 :])), "namespace": namespace,
        })
    return fields


def _leaf_errors(errors: Any) -> list[ValidationError]:
    out: list[ValidationError] = []
    for error in errors:
        if error.context and error.validator in ("oneOf", "anyOf"):
            out.append(error)  # keep the summary, not every branch's complaint
        elif error.context:
            out.extend(_leaf_errors(error.context))
        else:
            out.append(error)
    return out


def _describe(error: ValidationError) -> tuple[int, list[Any], str]:
    path = list(error.path)
    if error.validator == "required" and isinstance(error.instance, dict):
        match = re.match(r"^'(.+)' is a required property", error.message)
        missing = match.group(1) if match else ""
        full = [*path, missing]
        return 1, full, f"O campo {'.'.join(map(str, full))} é obrigatório"
    where = ".".join(map(str, path)) or "corpo"
    if error.validator == "type":
        return 2, path, f"O campo {where} deve ser do tipo {error.validator_value}"
    if error.validator == "enum":
        options = ", ".join(map(str, error.validator_value))
        return 3, path, f"O campo {where} deve ter um dos valores: {options}"
    return 4, path, f"O campo {where} é inválido: {error.message}"


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
        self.token_block_seconds = token_block_seconds
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
        self._token_limiter = SlidingWindowLimiter(token_calls_per_minute, 60.0)
        self._token_blocked_until: dict[str, float] = {}
        self._daily: tuple[date, int] = (date.min, 0)
        self.apps: dict[str, App] = {}
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.token_calls = 0
        self.contacts: dict[int, dict[str, Any]] = {}
        self.records: dict[str, dict[int, dict[str, Any]]] = {
            r: {} for r in SCOPE_BY_RESOURCE if r != "contatos"
        }
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
        return self._token_limiter.limit

    @token_calls_per_minute.setter
    def token_calls_per_minute(self, value: int) -> None:
        self._token_limiter = SlidingWindowLimiter(value, 60.0)

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

    def token_call_allowed(self, ip: str) -> bool:
        with self.lock:
            self.token_calls += 1
            now = self._ts()
            if self._token_blocked_until.get(ip, 0.0) > now:
                return False
            if self._token_limiter.hit(ip, now):
                return True
            self._token_blocked_until[ip] = now + self.token_block_seconds
            return False

    def account_request_allowed(self) -> str | None:
        """None when the account may make this request, else which limit it hit ("second"/"day")."""
        with self.lock:
            today = self.now().date()
            day, count = self._daily if self._daily[0] == today else (today, 0)
            if count >= self.daily_limit:
                return "day"
            if not self._rate.hit("account", self._ts()):
                return "second"
            self._daily = (day, count + 1)
            return None

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
        body = json.dumps({
            "eventId": f"{self._rng.getrandbits(128):032x}",
            "date": self.now().isoformat() + "-03:00",
            "version": "v1",
            "event": f"{kind}.{action}",
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


# --- templates: a fully populated record per resource, values valid for the response schemas ------


def _address() -> dict[str, str]:
    keys = ("endereco", "cep", "bairro", "municipio", "uf", "numero", "complemento")
    return dict.fromkeys(keys, "")


def contact_template(state: BlingState) -> dict[str, Any]:
    return {
        "id": 0, "nome": "", "codigo": "", "situacao": "A", "numeroDocumento": "", "telefone": "",
        "celular": "", "fantasia": "", "tipo": "", "indicadorIe": 9, "ie": "", "rg": "",
        "inscricaoMunicipal": "", "orgaoEmissor": "", "email": "", "emailNotaFiscal": "", "orgaoPublico": "N",
        "endereco": {"geral": _address(), "cobranca": _address()},
        "vendedor": {"id": 0},
        "dadosAdicionais": {"naturalidade": ""},
        "financeiro": {"limiteCredito": 0, "condicaoPagamento": "", "categoria": {"id": 0}},
        "pais": {"nome": ""},
        "tiposContato": [],
        "pessoasContato": [],
    }


def product_template(state: BlingState) -> dict[str, Any]:
    return {
        "id": 0, "nome": "", "codigo": "", "preco": 0.0, "tipo": "P", "situacao": "A", "formato": "S",
        "descricaoCurta": "", "imagemURL": "", "unidade": "UN", "pesoLiquido": 0.0, "pesoBruto": 0.0,
        "volumes": 0, "itensPorCaixa": 0.0, "gtin": "", "gtinEmbalagem": "", "tipoProducao": "P",
        "condicao": 0, "freteGratis": False, "marca": "", "descricaoComplementar": "", "linkExterno": "",
        "observacoes": "", "descricaoEmbalagemDiscreta": "", "categoria": {"id": 0},
        "estoque": {"minimo": 0.0, "maximo": 0.0, "crossdocking": 0, "localizacao": "",
                    "saldoVirtualTotal": 0.0},
        "dimensoes": {"largura": 0.0, "altura": 0.0, "profundidade": 0.0},
        "tributacao": {"origem": 0, "ncm": "", "cest": "", "percentualTributos": 0.0},
        "midia": {"video": {"url": ""}, "imagens": {"externas": [], "internas": []}},
        "linhaProduto": {"id": 0},
        "camposCustomizados": [],
        "variacoes": [],
        "artigoPerigoso": False,
        "precoCusto": 0.0,
    }


def sale_template(state: BlingState) -> dict[str, Any]:
    today = state.now().date().isoformat()
    return {
        "id": 0, "numero": 0, "numeroLoja": "", "data": today, "dataSaida": today, "dataPrevista": today,
        "totalProdutos": 0.0, "total": 0.0,
        "contato": {"id": 0, "nome": "", "tipoPessoa": "F", "numeroDocumento": ""},
        "situacao": {"id": 6, "valor": 0}, "loja": {"id": 0},
        "numeroPedidoCompra": "", "outrasDespesas": 0.0, "observacoes": "", "observacoesInternas": "",
        "desconto": {"valor": 0.0, "unidade": "REAL"}, "categoria": {"id": 0}, "notaFiscal": {"id": 0},
        "tributacao": {"totalICMS": 0.0, "totalIPI": 0.0}, "itens": [], "parcelas": [],
        "transporte": {"fretePorConta": 0, "frete": 0.0, "quantidadeVolumes": 0, "pesoBruto": 0.0,
                       "prazoEntrega": 0, "contato": {"id": 0, "nome": ""}, "etiqueta": {}, "volumes": []},
        "vendedor": {"id": 0}, "intermediador": {"cnpj": "", "nomeUsuario": ""},
        "taxas": {"taxaComissao": 0.0, "custoFrete": 0.0, "valorBase": 0.0},
    }


def proposal_template(state: BlingState) -> dict[str, Any]:
    return {
        "id": 0, "data": state.now().date().isoformat(), "situacao": "Pendente", "total": 0.0,
        "totalProdutos": 0.0, "numero": 0, "contato": {"id": 0}, "loja": {"id": 0}, "desconto": 0.0,
        "outrasDespesas": 0.0, "garantia": 0, "dataProximoContato": "", "observacoes": "",
        "observacaoInterna": "", "totalOutrosItens": 0, "aosCuidadosDe": "", "introducao": "",
        "prazoEntrega": "", "itens": [], "parcelas": [], "vendedor": {"id": 0},
        "transporte": {"freteModalidade": 0, "frete": 0.0, "quantidadeVolumes": 0.0, "prazoEntrega": 0,
                       "pesoBruto": 0.0, "contato": {"id": 0, "nome": ""},
                       "volumes": {"id": 0, "servico": "", "codigoRastreamento": ""}},
    }


def payable_template(state: BlingState) -> dict[str, Any]:
    today = state.now().date().isoformat()
    return {
        "id": 0, "situacao": 1, "vencimento": today, "valor": 0.0, "contato": {"id": 0},
        "formaPagamento": {"id": 0}, "saldo": 0.0, "dataEmissao": today, "vencimentoOriginal": today,
        "numeroDocumento": "", "competencia": today, "historico": "", "numeroBanco": "",
        "portador": {"id": 0}, "categoria": {"id": 0}, "borderos": [], "ocorrencia": {"tipo": 1},
    }


# --- derived fields and cross-record rules --------------------------------------------------------


def derive_contact(state: BlingState, record: dict[str, Any]) -> None:
    """Bling fills `tipo` from the document length when a test hook leaves it out."""
    digits = only_digits(record.get("numeroDocumento"))
    if "tipo" not in record or not record["tipo"]:
        record["tipo"] = "J" if len(digits) == 14 else "F"


def derive_product(state: BlingState, record: dict[str, Any]) -> None:
    record["precoCusto"] = float(record.get("precoCusto") or 0.0)


def _items_total(items: list[dict[str, Any]]) -> float:
    total = 0.0
    for item in items:
        quantity = float(item.get("quantidade") or 0)
        value = float(item.get("valor") or 0)
        discount = float(item.get("desconto") or 0)
        total += quantity * value * (1 - discount / 100)
    return round(total, 2)


def _number_items(state: BlingState, items: list[dict[str, Any]]) -> None:
    for item in items:
        if not item.get("id"):
            item["id"] = state.new_id()
        item.setdefault("valorLista", item.get("valor", 0.0))
        item.setdefault("descricao", "")
        item.setdefault("quantidade", 0.0)
        item.setdefault("valor", 0.0)


def derive_sale(state: BlingState, record: dict[str, Any]) -> None:
    contact = state.contacts.get(int(record["contato"].get("id") or 0))
    if contact is not None:
        record["contato"] = {"id": contact["id"], "nome": contact["nome"], "tipoPessoa": contact["tipo"],
                             "numeroDocumento": only_digits(contact.get("numeroDocumento"))}
    if not record.get("numero"):
        record["numero"] = state.next_numero("pedidos/vendas")
    _number_items(state, record["itens"])
    for parcela in record["parcelas"]:
        if not parcela.get("id"):
            parcela["id"] = state.new_id()
    record["situacao"].setdefault("valor", 0)
    record["totalProdutos"] = _items_total(record["itens"])
    discount = float(record["desconto"].get("valor") or 0)
    if record["desconto"].get("unidade") == "PERCENTUAL":
        discount = record["totalProdutos"] * discount / 100
    extra = float(record.get("outrasDespesas") or 0) + float(record["transporte"].get("frete") or 0)
    record["total"] = round(record["totalProdutos"] - discount + extra, 2)


def derive_proposal(state: BlingState, record: dict[str, Any]) -> None:
    if not record.get("numero"):
        record["numero"] = state.next_numero("propostas-comerciais")
    record["totalProdutos"] = _items_total(record["itens"])
    extra = float(record.get("outrasDespesas") or 0) + float(record["transporte"].get("frete") or 0)
    record["total"] = round(record["totalProdutos"] - float(record.get("desconto") or 0) + extra, 2)


def derive_payable(state: BlingState, record: dict[str, Any]) -> None:
    record.setdefault("vencimentoOriginal", record["vencimento"])
    if not record.get("saldo"):
        record["saldo"] = record["valor"]


def check_contact(state: BlingState, body: dict[str, Any]) -> list[dict[str, Any]]:
    if not state.validate_documents:
        return []
    digits = only_digits(body.get("numeroDocumento"))
    if not digits:
        return []
    kind = body.get("tipo")
    ok = is_valid_cnpj(digits) if (kind == "J" or len(digits) == 14) else is_valid_cpf(digits)
    if ok:
        return []
    label = "CNPJ" if (kind == "J" or len(digits) == 14) else "CPF"
    return [{"code": 5, "msg": f"O {label} informado é inválido", "element": "numeroDocumento",
             "namespace": "CONTATOS", "collection": []}]


def _check_contact_ref(namespace: str, required: bool) -> Callable[[BlingState, dict[str, Any]], list[Any]]:
    """Orders and payables must point at an existing contact, as in Bling's UI."""

    def check(state: BlingState, body: dict[str, Any]) -> list[dict[str, Any]]:
        ref = body.get("contato") or {}
        contact_id = ref.get("id") if isinstance(ref, dict) else None
        if contact_id in (None, 0) and not required:
            return []
        if isinstance(contact_id, int) and contact_id in state.contacts:
            return []
        return [{"code": 6, "msg": f"O contato {contact_id} não foi encontrado", "element": "contato.id",
                 "namespace": namespace, "collection": []}]

    return check


# --- per-resource description ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceSpec:
    """How one Bling resource is stored, filtered, validated and answered."""

    name: str
    path: str
    id_param: str
    what: str  # for error messages ("o contato")
    namespace: str
    template: Callable[[BlingState], dict[str, Any]]
    derive: Callable[[BlingState, dict[str, Any]], None]
    check: Callable[[BlingState, dict[str, Any]], list[dict[str, Any]]]
    filters: Callable[[Request], list[Predicate]]
    put_status: int
    post_answer: Callable[[int], dict[str, Any]]
    put_answer: Callable[[int], dict[str, Any]]


def _data_id(record_id: int) -> dict[str, Any]:
    return {"data": {"id": record_id}}


def _product_answer(record_id: int) -> dict[str, Any]:
    return {"data": {"id": record_id, "warnings": []}}


def _sale_answer(record_id: int) -> dict[str, Any]:
    return {"data": {"id": record_id, "alertas": []}}


# --- query filters --------------------------------------------------------------------------------


def _param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value not in (None, "") else None


def _int_list(request: Request, name: str) -> list[int] | None:
    raw = request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)
    if not raw:
        return None
    try:
        return [int(v) for v in raw]
    except ValueError as exc:
        raise _bad_param(name, raw) from exc


def _bad_param(name: str, value: Any) -> BlingError:
    return BlingError(400, "VALIDATION_ERROR", "Parâmetro inválido", f"O parâmetro {name} é inválido",
                      [{"code": 4, "msg": f"Valor inválido: {value}", "element": name,
                        "namespace": "QUERY", "collection": []}])


def _parse_when(name: str, value: str, end_of_day: bool) -> datetime:
    text = value.strip()
    try:
        return datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        pass
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError as exc:
        raise _bad_param(name, value) from exc
    return day.replace(hour=23, minute=59, second=59) if end_of_day else day


def _range(
    request: Request, initial: str, final: str, get: Callable[[dict[str, Any]], datetime]
) -> list[Predicate]:
    """Inclusive [initial, final] on a Brasília-local timestamp or date of the record."""
    preds: list[Predicate] = []
    low, high = _param(request, initial), _param(request, final)
    if low:
        start = _parse_when(initial, low, end_of_day=False)
        preds.append(lambda r: get(r) >= start)
    if high:
        end = _parse_when(final, high, end_of_day=True)
        preds.append(lambda r: get(r) <= end)
    return preds


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.strptime(str(value)[:10], "%Y-%m-%d")
    except ValueError:
        return datetime.min


def _changed(r: dict[str, Any]) -> datetime:
    return r["_dataAlteracao"]


def _included(r: dict[str, Any]) -> datetime:
    return r["_dataInclusao"]


def _field_date(field: str) -> Callable[[dict[str, Any]], datetime]:
    return lambda r: _as_datetime(r.get(field))


def _common_ranges(request: Request) -> list[Predicate]:
    return (_range(request, "dataAlteracaoInicial", "dataAlteracaoFinal", _changed)
            + _range(request, "dataInclusaoInicial", "dataInclusaoFinal", _included))


def contact_filters(request: Request) -> list[Predicate]:
    preds = _common_ranges(request)
    criterio = _param(request, "criterio") or "3"
    wanted_situacoes = {"1": {"A", "I", "S"}, "2": {"E"}, "3": {"A", "I", "S"}, "4": {"S"}}.get(criterio)
    if wanted_situacoes is None:
        raise _bad_param("criterio", criterio)
    preds.append(lambda r: r.get("situacao") in wanted_situacoes)
    search = _param(request, "pesquisa")
    if search:
        preds.append(lambda r: _contact_matches(r, search))
    document = _param(request, "numeroDocumento")
    if document:
        digits = only_digits(document)
        preds.append(lambda r: only_digits(r.get("numeroDocumento")) == digits)
    ids = _int_list(request, "idsContatos")
    if ids is not None:
        preds.append(lambda r: r["id"] in ids)
    person = _param(request, "tipoPessoa")
    if person:
        kind = {"1": "F", "2": "J", "3": "E"}.get(person)
        if kind is None:
            raise _bad_param("tipoPessoa", person)
        preds.append(lambda r: r.get("tipo") == kind)
    uf = _param(request, "uf")
    if uf:
        preds.append(lambda r: r["endereco"]["geral"].get("uf", "").upper() == uf.upper())
    phone = _param(request, "telefone")
    if phone:
        digits_phone = only_digits(phone)
        preds.append(lambda r: digits_phone in (only_digits(r["telefone"]), only_digits(r["celular"])))
    return preds


def _contact_matches(record: dict[str, Any], search: str) -> bool:
    """`pesquisa`: nome, CPF/CNPJ, fantasia, e-mail or código."""
    needle = search.strip().lower()
    texts = (record.get("nome"), record.get("fantasia"), record.get("email"), record.get("codigo"))
    if any(needle in str(t or "").lower() for t in texts):
        return True
    # a CPF/CNPJ search is digits with the usual punctuation; the digits of an e-mail or a name
    # ("maria23@...") are not a document and must not match every CPF that contains them
    if search.strip(" .-/0123456789"):
        return False
    digits = only_digits(search)
    return bool(digits) and digits in only_digits(record.get("numeroDocumento"))


def product_filters(request: Request) -> list[Predicate]:
    preds = _common_ranges(request)
    criterio = _param(request, "criterio") or "1"
    situacoes = {"1": {"A", "I"}, "2": {"A"}, "3": {"I"}, "4": {"E"}, "5": {"A", "I", "E"}}.get(criterio)
    if situacoes is None:
        raise _bad_param("criterio", criterio)
    preds.append(lambda r: r.get("situacao") in situacoes)
    kind = _param(request, "tipo") or "T"
    kinds: dict[str, Predicate] = {
        "T": lambda r: True, "P": lambda r: r["tipo"] == "P", "S": lambda r: r["tipo"] == "S",
        "E": lambda r: r["formato"] == "E", "PS": lambda r: r["tipo"] == "P" and r["formato"] == "S",
        "C": lambda r: r["formato"] == "V", "V": lambda r: bool(r.get("idProdutoPai")),
    }
    if kind not in kinds:
        raise _bad_param("tipo", kind)
    preds.append(kinds[kind])
    name = _param(request, "nome")
    if name:
        preds.append(lambda r: name.lower() in r["nome"].lower())
    ids = _int_list(request, "idsProdutos")
    if ids is not None:
        preds.append(lambda r: r["id"] in ids)
    codes = request.query_params.getlist("codigos[]")
    if codes:
        preds.append(lambda r: r.get("codigo") in codes)
    gtins = request.query_params.getlist("gtins[]")
    if gtins:
        preds.append(lambda r: r.get("gtin") in gtins)
    category = _param(request, "idCategoria")
    if category:
        preds.append(lambda r: str(r["categoria"].get("id")) == category)
    return preds


def _eq_int(request: Request, name: str, get: Callable[[dict[str, Any]], Any]) -> list[Predicate]:
    raw = _param(request, name)
    if raw is None:
        return []
    try:
        wanted = int(raw)
    except ValueError as exc:
        raise _bad_param(name, raw) from exc
    return [lambda r: get(r) == wanted]


def sale_filters(request: Request) -> list[Predicate]:
    preds = _range(request, "dataAlteracaoInicial", "dataAlteracaoFinal", _changed)
    preds += _range(request, "dataInicial", "dataFinal", _field_date("data"))
    preds += _range(request, "dataPrevistaInicial", "dataPrevistaFinal", _field_date("dataPrevista"))
    preds += _eq_int(request, "idContato", lambda r: r["contato"]["id"])
    preds += _eq_int(request, "numero", lambda r: r["numero"])
    preds += _eq_int(request, "idLoja", lambda r: r["loja"]["id"])
    preds += _eq_int(request, "idVendedor", lambda r: r["vendedor"]["id"])
    store_numbers = request.query_params.getlist("numerosLojas[]")
    if store_numbers:
        preds.append(lambda r: r.get("numeroLoja") in store_numbers)
    situations = _int_list(request, "idsSituacoes")
    if situations is not None:
        preds.append(lambda r: r["situacao"]["id"] in situations)
    return preds


def proposal_filters(request: Request) -> list[Predicate]:
    preds = _range(request, "dataInicial", "dataFinal", _field_date("data"))
    preds += _eq_int(request, "idContato", lambda r: r["contato"].get("id"))
    situation = _param(request, "situacao")
    if situation:
        preds.append(lambda r: r["situacao"].lower() == situation.lower())
    return preds


def payable_filters(request: Request) -> list[Predicate]:
    preds = _range(request, "dataEmissaoInicial", "dataEmissaoFinal", _field_date("dataEmissao"))
    preds += _range(request, "dataVencimentoInicial", "dataVencimentoFinal", _field_date("vencimento"))
    preds += _eq_int(request, "situacao", lambda r: r["situacao"])
    preds += _eq_int(request, "idContato", lambda r: r["contato"]["id"])
    return preds


def _no_check(state: BlingState, body: dict[str, Any]) -> list[dict[str, Any]]:
    return []


RESOURCES: dict[str, ResourceSpec] = {
    "contatos": ResourceSpec(
        "contatos", "/contatos", "idContato", "o contato", "CONTATOS", contact_template, derive_contact,
        check_contact, contact_filters, 204, _data_id, _data_id),
    "produtos": ResourceSpec(
        "produtos", "/produtos", "idProduto", "o produto", "PRODUTOS", product_template, derive_product,
        _no_check, product_filters, 200, _product_answer, _product_answer),
    "pedidos/vendas": ResourceSpec(
        "pedidos/vendas", "/pedidos/vendas", "idPedidoVenda", "a venda", "VENDAS", sale_template, derive_sale,
        _check_contact_ref("VENDAS", required=True), sale_filters, 200, _sale_answer, _sale_answer),
    "propostas-comerciais": ResourceSpec(
        "propostas-comerciais", "/propostas-comerciais", "idPropostaComercial", "a proposta comercial",
        "PROPOSTAS_COMERCIAIS", proposal_template, derive_proposal,
        _check_contact_ref("PROPOSTAS_COMERCIAIS", required=False), proposal_filters, 204, _data_id,
        _data_id),
    "contas/pagar": ResourceSpec(
        "contas/pagar", "/contas/pagar", "idContaPagar", "a conta a pagar", "CONTAS_PAGAR", payable_template,
        derive_payable, _check_contact_ref("CONTAS_PAGAR", required=True), payable_filters, 200, _data_id,
        _data_id),
}


# --- the app --------------------------------------------------------------------------------------


def create_bling_app(state: BlingState) -> Starlette:
    """Build the Starlette app serving `state` under `/Api/v3`."""
    h = _Handlers(state)
    routes = [
        Route(f"{BASE}/oauth/authorize", h.plain(h.authorize), methods=["GET"]),
        Route(f"{BASE}/oauth/token", h.plain(h.token), methods=["POST"]),
    ]
    for spec in RESOURCES.values():
        routes.append(Route(f"{BASE}{spec.path}", h.data(spec, h.collection(spec)), methods=["GET", "POST"]))
        routes.append(Route(f"{BASE}{spec.path}/{{id}}", h.data(spec, h.item(spec)),
                            methods=["GET", "PUT", "DELETE"]))
    return Starlette(routes=routes)


class _Handlers:
    """Request handlers closed over one state."""

    def __init__(self, state: BlingState) -> None:
        self.state = state

    # -- cross-cutting wrappers ----------------------------------------------------------------------

    def plain(self, handler: Handler) -> Handler:
        """OAuth endpoints: faults, then the handler; BlingError becomes its response."""

        async def endpoint(request: Request) -> Response:
            await request.body()  # read first: a timed-out write still lands, as a real one does
            fault = await self.state.faults.apply()
            if fault is not None:
                return _server_error(fault)
            try:
                return await handler(request)
            except BlingError as exc:
                return exc.response()

        return endpoint

    def data(self, spec: ResourceSpec, handler: Handler) -> Handler:
        """Data endpoints: faults, bearer token (401), account limits (429), scope (403)."""
        state = self.state

        async def endpoint(request: Request) -> Response:
            await request.body()  # read first: a timed-out write still lands, as a real one does
            fault = await state.faults.apply()
            if fault is not None:
                return _server_error(fault)
            try:
                grant = state.check_access(_bearer(request))
                limit = state.account_request_allowed()
                if limit is not None:
                    raise _too_many(limit, state)
                if SCOPE_BY_RESOURCE[spec.name] not in grant.scopes:
                    raise oauth_error(403, "insufficient_scope", INSUFFICIENT_SCOPE)
                with state.lock:
                    state.calls[(request.method, spec.name)] += 1
                return await handler(request)
            except BlingError as exc:
                return exc.response()

        return endpoint

    # -- OAuth ---------------------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        state = self.state
        params = request.query_params
        app = state.apps.get(params.get("client_id", ""))
        if app is None:
            raise oauth_error(400, "invalid_client", "Unknown client_id")
        if params.get("response_type") != "code":
            raise oauth_error(400, "unsupported_response_type", "response_type must be 'code'")
        answer: dict[str, str] = {}
        if state.deny_authorization:
            answer["error"] = "access_denied"
        else:
            answer["code"] = state.authorize(app.client_id)
        if params.get("state") is not None:
            answer["state"] = params["state"]
        sep = "&" if "?" in app.redirect_uri else "?"
        return RedirectResponse(app.redirect_uri + sep + urlencode(answer), status_code=302)

    async def token(self, request: Request) -> Response:
        state = self.state
        ip = request.client.host if request.client else "unknown"
        if not state.token_call_allowed(ip):
            raise BlingError(429, "TOO_MANY_REQUESTS", "Limite de requisições atingido",
                             "Muitas requisições ao endpoint de token; aguarde o desbloqueio.")
        app = self._client_from_basic(request)
        form = await _form(request)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            tokens = state.exchange_code(app.client_id, form.get("code", ""))
        elif grant_type == "refresh_token":
            tokens = state.refresh(app.client_id, form.get("refresh_token", ""))
        else:
            raise oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type!r}")
        return JSONResponse(tokens, status_code=200, headers={"Cache-Control": "no-store"})

    def _client_from_basic(self, request: Request) -> App:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id, secret = "", ""
        app = self.state.apps.get(client_id)
        if scheme.lower() != "basic" or app is None or app.client_secret != secret:
            raise oauth_error(401, "invalid_client", "Client credentials were not found or are invalid")
        return app

    # -- data ----------------------------------------------------------------------------------------

    def collection(self, spec: ResourceSpec) -> Handler:
        keys = self.state.schemas.list_item_keys(spec.path)

        async def handler(request: Request) -> Response:
            if request.method == "POST":
                return await self._create(spec, request)
            page, limit = _paging(request)
            preds = spec.filters(request)
            with self.state.lock:
                table = self.state.table(spec.name)
                chosen = [r for r in table.values() if all(p(r) for p in preds)]
                chosen.sort(key=lambda r: r["id"], reverse=True)
                window = chosen[(page - 1) * limit : page * limit]
                data = [{k: deepcopy(r[k]) for k in keys if k in r} for r in window]
            return JSONResponse({"data": data})

        return handler

    def item(self, spec: ResourceSpec) -> Handler:
        async def handler(request: Request) -> Response:
            raw = request.path_params["id"]
            if not raw.isdigit():
                raise _bad_param(spec.id_param, raw)
            record_id = int(raw)
            state = self.state
            if request.method == "GET":
                with state.lock:
                    record = state.table(spec.name).get(record_id)
                    if record is None:
                        raise not_found(f"{spec.what} {record_id}")
                    return JSONResponse({"data": public(record)})
            if request.method == "DELETE":
                with state.lock:
                    if not state.delete_record(spec.name, record_id):
                        raise not_found(f"{spec.what} {record_id}")
                    state.writes[("DELETE", spec.name)] += 1
                return Response(status_code=204)
            return await self._replace(spec, request, record_id)

        return handler

    async def _create(self, spec: ResourceSpec, request: Request) -> Response:
        body = await self._valid_body(spec, request, "POST", spec.path)
        state = self.state
        with state.lock:
            record = state.store_body(spec.name, state.new_id(), body, created=True)
            state.writes[("POST", spec.name)] += 1
        return JSONResponse(spec.post_answer(record["id"]), status_code=201)

    async def _replace(self, spec: ResourceSpec, request: Request, record_id: int) -> Response:
        body = await self._valid_body(spec, request, "PUT", f"{spec.path}/{{{spec.id_param}}}")
        state = self.state
        with state.lock:
            if record_id not in state.table(spec.name):
                raise not_found(f"{spec.what} {record_id}")
            state.store_body(spec.name, record_id, body, created=False)
            state.writes[("PUT", spec.name)] += 1
        if spec.put_status == 204:
            return Response(status_code=204)
        return JSONResponse(spec.put_answer(record_id), status_code=spec.put_status)

    async def _valid_body(
        self, spec: ResourceSpec, request: Request, method: str, path: str
    ) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            raise BlingError(400, "EMPTY_REQUEST_BODY", "Corpo da requisição vazio",
                             "A requisição precisa de um corpo JSON.")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BlingError(400, "INVALID_REQUEST_BODY", "Corpo da requisição inválido",
                             f"O corpo da requisição não é um JSON válido: {exc}") from exc
        if not isinstance(body, dict):
            raise BlingError(400, "INVALID_REQUEST_BODY", "Corpo da requisição inválido",
                             "O corpo da requisição deve ser um objeto JSON.")
        validator = self.state.schemas.request_validator(method, path)
        fields = schema_errors(validator, body, spec.namespace)
        with self.state.lock:
            fields += spec.check(self.state, body) if not fields else []
        if fields:
            raise validation_error(spec.what, fields)
        return body


async def _form(request: Request) -> dict[str, str]:
    """The token endpoint takes application/x-www-form-urlencoded only (parsed here, no multipart)."""
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        raise oauth_error(400, "invalid_request", "The body must be application/x-www-form-urlencoded")
    pairs = parse_qsl((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return dict(pairs)


def _paging(request: Request) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("pagina") or 1)
        limit = int(request.query_params.get("limite") or MAX_LIMIT)
    except ValueError as exc:
        raise _bad_param("pagina/limite", dict(request.query_params)) from exc
    return max(1, page), min(MAX_LIMIT, max(1, limit))


def _too_many(limit: str, state: BlingState) -> BlingError:
    if limit == "day":
        description = f"O limite diário de {state.daily_limit} requisições foi atingido."
    else:
        description = f"O limite de {state.rate_limit_per_second} requisições por segundo foi atingido."
    return BlingError(429, "TOO_MANY_REQUESTS", "Limite de requisições atingido", description)


def _server_error(status: int) -> JSONResponse:
    error = BlingError(status, "SERVER_ERROR", "Erro interno", "Ocorreu um erro inesperado no servidor.")
    return error.response()


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


__all__ = [
    "ALL_SCOPES",
    "SCOPE_BY_RESOURCE",
    "BlingError",
    "BlingState",
    "create_bling_app",
]
