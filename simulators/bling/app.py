"""The Bling simulator's HTTP routes (Starlette): OAuth, the v3 resources, webhooks admin."""

from __future__ import annotations

import base64
import json
from copy import deepcopy
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from simulators.bling.common import (
    BASE,
    INSUFFICIENT_SCOPE,
    MAX_LIMIT,
    SCOPE_BY_RESOURCE,
    App,
    BlingError,
    Handler,
    not_found,
    oauth_error,
    validation_error,
)
from simulators.bling.invoices import get_invoice
from simulators.bling.resources import RESOURCES, ResourceSpec, bad_param
from simulators.bling.schema import schema_errors
from simulators.bling.state import BlingState, public

# --- the app --------------------------------------------------------------------------------------


def create_bling_app(state: BlingState) -> Starlette:
    """Build the Starlette app serving `state` under `/Api/v3`."""
    h = _Handlers(state)
    routes = [
        Route(f"{BASE}/oauth/authorize", h.per_ip(h.plain(h.authorize)), methods=["GET"]),
        Route(f"{BASE}/oauth/token", h.per_ip(h.plain(h.token), token_call=True), methods=["POST"]),
    ]
    for spec in RESOURCES.values():
        routes.append(Route(f"{BASE}{spec.path}", h.per_ip(h.data(spec, h.collection(spec))),
                            methods=["GET", "POST"]))
        routes.append(Route(f"{BASE}{spec.path}/{{id}}", h.per_ip(h.data(spec, h.item(spec))),
                            methods=["GET", "PUT", "DELETE"]))
    # the nota fiscal issued for a pedido (issue 17, item 3), read under the sales scope
    routes.append(Route(f"{BASE}/nfe/{{id}}", h.per_ip(h.data(RESOURCES["pedidos/vendas"],
                        partial(get_invoice, state))), methods=["GET"]))
    return Starlette(routes=routes)


class _Handlers:
    """Request handlers closed over one state."""

    def __init__(self, state: BlingState) -> None:
        self.state = state

    # -- cross-cutting wrappers ----------------------------------------------------------------------

    def per_ip(self, handler: Handler, *, token_call: bool = False) -> Handler:
        """Bling's per-IP limits, outermost: a blocked IP is refused whatever it asks for, and every
        answer of 400 or more (faults, 401, 429 included) counts as one of the IP's errors."""
        state = self.state

        async def endpoint(request: Request) -> Response:
            ip = request.client.host if request.client else "unknown"
            if not state.ip_admit(ip, token_call=token_call):
                return _ip_blocked(state.ip_block_reason(ip)).response()
            response = await handler(request)
            state.ip_answered(ip, response.status_code)
            return response

        return endpoint

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
                raise bad_param(spec.id_param, raw)
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
        raise bad_param("pagina/limite", dict(request.query_params)) from exc
    return max(1, page), min(MAX_LIMIT, max(1, limit))


def _too_many(limit: str, state: BlingState) -> BlingError:
    if limit == "day":
        description = f"O limite diário de {state.daily_limit} requisições foi atingido."
    else:
        description = f"O limite de {state.rate_limit_per_second} requisições por segundo foi atingido."
    return BlingError(429, "TOO_MANY_REQUESTS", "Limite de requisições atingido", description)


def _ip_blocked(reason: str) -> BlingError:
    if reason == "token_calls":
        description = "Muitas requisições ao endpoint de token; aguarde o desbloqueio."
    elif reason == "errors":
        description = "Muitas requisições com erro a partir deste IP; aguarde o desbloqueio."
    else:
        description = "Muitas requisições a partir deste IP; aguarde o desbloqueio."
    return BlingError(429, "TOO_MANY_REQUESTS", "Limite de requisições atingido", description)


def _server_error(status: int) -> JSONResponse:
    error = BlingError(status, "SERVER_ERROR", "Erro interno", "Ocorreu um erro inesperado no servidor.")
    return error.response()


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
