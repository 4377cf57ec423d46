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
  ip_requests_per_10s=600, ip_errors_per_10s=300, ip_block_seconds=600,
  validate_documents=False, seed=0, clock=None, openapi_path=None)`.
  Attributes: `contacts` (dict id -> stored contact), `records[resource]` for "produtos",
  "pedidos/vendas", "propostas-comerciais", "contas/pagar"; `writes` / `calls` (Counter of
  (METHOD, resource)); `token_calls` (int); `faults` (FaultInjector); `deny_authorization`;
  `ip` (IpLimits: per-IP `times(ip, kind)`, `max_in_window(ip, kind, seconds)` for kind
  "token_calls" / "requests" / "errors", `blocks`, `refused`).
  Methods: `register_app`, `authorize` (code without HTTP), `grant_tokens` (token pair without
  HTTP), `revoke_authorization`, `expire_access_tokens`, `add_contact`, `update_contact`,
  `delete_contact`, `add_record`, `update_record`, `set_clock`, `now`, `spend_daily` (calls the
  account's other apps made today), `daily_used`; `refused` (Counter of 429s by "second"/"day") and
  `daily_refused_at` (clock seconds of each daily-limit answer). The daily limit turns at midnight
  of the (injectable) Brasília clock and is answered as 429 TOO_MANY_REQUESTS whose description says
  "O limite diário de N requisições foi atingido." (the per-second one names "por segundo").
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
- Per-IP limits (simulators/bling/ip_limits.py), whatever the account: more than
  `token_calls_per_minute` calls to /oauth/token from one IP in 60 s block the IP for
  `token_block_seconds`; more than `ip_requests_per_10s` requests, or more than `ip_errors_per_10s`
  answers of 400 or more, in 10 s block it for `ip_block_seconds` ("for minutes": 10 by default). A
  blocked IP gets 429 TOO_MANY_REQUESTS on every endpoint (not counted as requests or errors).
- The per-account limit counts requests that carried a valid token; over it 429 TOO_MANY_REQUESTS.
- `validate_documents=True` makes CPF/CNPJ check digits part of validation (real Bling does this;
  the document does not say so, hence off by default).
"""

from simulators.bling.app import create_bling_app
from simulators.bling.common import ALL_SCOPES, SCOPE_BY_RESOURCE, BlingError
from simulators.bling.state import BlingState

__all__ = [
    "ALL_SCOPES",
    "SCOPE_BY_RESOURCE",
    "BlingError",
    "BlingState",
    "create_bling_app",
]
