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

from simulators.auvo.app import create_auvo_app
from simulators.auvo.common import API_DEACTIVATED_MESSAGE
from simulators.auvo.state import AuvoState

__all__ = ["API_DEACTIVATED_MESSAGE", "AuvoState", "create_auvo_app"]
