"""The Auvo simulator's HTTP routes (Starlette): login, the v2 resources, webhooks."""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.auvo.catalog import create_fields, patch_fields
from simulators.auvo.common import (
    API_DEACTIVATED_MESSAGE,
    GUID_IDS,
    ID_KEYS,
    LOGIN_DATE_FMT,
    RATE_LIMIT_BODY,
    AuvoValidationError,
    Handler,
)
from simulators.auvo.queries import (
    LIST_FILTERS,
    PARAM_FILTER_REQUIRED,
    ParamFilterRequired,
    _empty,
    _int_or_400,
    _json,
    _query,
    customer_filters,
    paged_result,
    parse_param_filter,
)
from simulators.auvo.state import AuvoState
from simulators.auvo.task_outcome import keyword_body, validate_task_patch
from simulators.auvo.templates import public
from simulators.auvo.validation import _as_bool, _not_valid, validate_customer_body, validate_patch

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
    for resource in ("products", "services"):
        add(f"/v2/{resource}/", h.guard(h.create_catalog_item(resource), resource=resource), ["POST"])
        add(f"/v2/{resource}/{{id}}", h.guard(h.patch_catalog_item(resource), resource=resource), ["PATCH"])
    add("/v2/webHooks/", h.guard(h.create_webhook, resource="webHooks"), ["POST"])
    add("/v2/webHooks/{id}", h.guard(h.delete_webhook, resource="webHooks"), ["DELETE"])
    # a job's outcome on its task (issue 17, item 3): the task PATCH and the keywords
    add("/v2/tasks/{id}", h.guard(h.patch_task, resource="tasks"), ["PATCH"])
    add("/v2/keywords/", h.guard(h.list_of("keywords"), resource="keywords"), ["GET"])
    add("/v2/keywords/", h.guard(h.create_keyword, resource="keywords"), ["POST"])
    add("/v2/keywords/{id}", h.guard(h.get_one("keywords"), resource="keywords"), ["GET"])
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

    # -- products and services (simulators/auvo/catalog.py) ----------------------------------------------

    def create_catalog_item(self, resource: str) -> Handler:
        async def handler(request: Request) -> Response:
            fields = create_fields(resource, await _json_body(request))
            state = self.state
            with state.lock:
                record = state.add_record(resource, fields)
                state.writes[("POST", resource)] += 1
            return _json(201, {"result": record})

        return handler

    def patch_catalog_item(self, resource: str) -> Handler:
        async def handler(request: Request) -> Response:
            raw = str(request.path_params["id"])
            changes = patch_fields(resource, await _json_body(request))
            state = self.state
            with state.lock:
                record = self._lookup(resource, raw)
                if record is None:
                    return _empty(404)
                state.writes[("PATCH", resource)] += 1
                updated = state.update_record(resource, record[ID_KEYS[resource]], **changes)
            return _json(200, {"result": updated})

        return handler

    # -- a job's outcome on its task -------------------------------------------------------------------

    async def patch_task(self, request: Request) -> Response:
        raw = str(request.path_params["id"])
        changes = validate_task_patch(await _json_body(request))
        state = self.state
        with state.lock:
            if self._lookup("tasks", raw) is None:
                return _empty(404)
            if "keyWords" in changes:
                names = state.records["keywords"]
                changes["keyWordsDescriptions"] = [
                    str(names.get(int(k), {}).get("description", "")) if k.isdigit() else ""
                    for k in changes["keyWords"]
                ]
            state.writes[("PATCH", "tasks")] += 1
            return _json(200, {"result": state.update_record("tasks", int(raw), **changes)})

    async def create_keyword(self, request: Request) -> Response:
        description = keyword_body(await _json_body(request))
        with self.state.lock:
            self.state.writes[("POST", "keywords")] += 1
        return _json(201, {"result": self.state.add_record("keywords", {"description": description})})

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
