"""HTTP client of the Bling API v3 (ERP), returning raw JSON records as dicts.

Tokens are not this module's business: Bling's refresh tokens rotate and are single-use, so exactly
one process may refresh at a time, under a lock in the store. The client therefore asks a
`BlingTokenSource` for the current token and, when Bling rejects it, for a fresh one, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import httpx

from infra import http
from infra.bling.wire import bling_query
from infra.errors import (
    ApiRejected,
    ApiUnavailable,
    BlingAuthorizationRevoked,
    BlingScopeMissing,
    DailyQuotaExhausted,
    FieldError,
    NotFound,
    RateLimited,
)
from infra.quota import is_daily_limit

SERVICE = "Bling"
PAGE_LIMIT = 100

JsonDict = dict[str, Any]

CONTACTS = "/contatos"
PRODUCTS = "/produtos"
SALES_ORDERS = "/pedidos/vendas"
PROPOSALS = "/propostas-comerciais"
PAYABLES = "/contas/pagar"


class BlingTokenSource(Protocol):
    """Where the client gets bearer tokens; implemented by the lead with the store's lock."""

    def access_token(self) -> str:
        """The current access token (refreshing first if it is known to be expired)."""
        ...

    def refreshed_after_rejection(self, rejected: str) -> str:
        """A fresh token after Bling answered 401 to `rejected`.

        Implementations refresh only if `rejected` is still the stored token (another process may
        have refreshed already) and raise BlingAuthorizationRevoked when the refresh is refused.
        """
        ...


class BlingClient:
    """Synchronous Bling API v3 client; safe to share between threads (httpx.Client is)."""

    def __init__(
        self,
        base_url: str,
        tokens: BlingTokenSource,
        *,
        throttle: http.Throttle | None = None,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._tokens = tokens
        self._throttle = throttle
        # a create given up on after this long may still land: consumers wait before re-creating
        self.timeout = timeout
        self.requests = http.RequestCount()
        self._http = http.build_client(
            base_url, timeout=timeout, connect_timeout=connect_timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"BlingClient(base_url={str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BlingClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- transport ----------------------------------------------------------------------------

    def _send_with(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(
            method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
        return http.send(
            self._http,
            request,
            service=SERVICE,
            throttle=self._throttle,
            secrets=[token],
            counter=self.requests,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One authorized call; on 401 asks the token source for a fresh token and retries once."""
        token = self._tokens.access_token()
        response = self._send_with(token, method, path, **kwargs)
        if response.status_code == 401:
            token = self._tokens.refreshed_after_rejection(token)
            response = self._send_with(token, method, path, **kwargs)
            if response.status_code == 401:
                error = _error_of(response)
                raise BlingAuthorizationRevoked(
                    f"Bling rejected a freshly refreshed token on {http.describe(response.request)}: "
                    f"{http.redact(_summary(error), [token])}",
                    http_status=401,
                    api_error_type=error.get("type"),
                )
        _raise_for_status(response, secrets=[token])
        return response

    def _data(self, response: httpx.Response) -> Any:
        body = http.json_body(response)
        if not isinstance(body, dict):
            raise ApiUnavailable(
                f"Bling answered {response.status_code} to {http.describe(response.request)} with an "
                f"unreadable body: {http.body_excerpt(response)}",
                http_status=response.status_code,
            )
        return body.get("data", body)

    # --- generic resource operations ----------------------------------------------------------

    def _page(self, path: str, page: int, filters: dict[str, Any]) -> list[JsonDict]:
        params = {**bling_query(filters), "pagina": page, "limite": PAGE_LIMIT}
        data = self._data(self._call("GET", path, params=params))
        return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []

    def _iterate(self, path: str, filters: dict[str, Any]) -> Iterator[JsonDict]:
        """Pages until Bling's empty page; a short page is not trusted as the end (the document
        only promises the empty page)."""
        return http.paginate(lambda page: self._page(path, page, filters))

    def _get(self, path: str, entity_id: int) -> JsonDict:
        data = self._data(self._call("GET", f"{path}/{entity_id}"))
        if not isinstance(data, dict):
            raise NotFound(f"Bling answered no record for GET {path}/{entity_id}", http_status=200)
        return data

    def _create(self, path: str, body: JsonDict) -> int:
        """POST; Bling answers 201 `{"data": {"id": ...}}` (contas a pagar: `{"id": ...}`)."""
        response = self._call("POST", path, json=body)
        data = self._data(response)
        entity_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(entity_id, bool) or not isinstance(entity_id, int | float | str):
            raise ApiUnavailable(
                f"Bling answered {response.status_code} to POST {path} without the new id",
                http_status=response.status_code,
            )
        return int(entity_id)

    def _update(self, path: str, entity_id: int, body: JsonDict) -> None:
        """PUT; 204 for most resources, 200 with a body for produtos, pedidos and contas."""
        self._call("PUT", f"{path}/{entity_id}", json=body)

    # --- contatos (Clientes e Fornecedores) ---------------------------------------------------

    def contacts_page(self, page: int = 1, **filters: Any) -> list[JsonDict]:
        """One page of contacts ([] past the end), for callers that checkpoint per page."""
        return self._page(CONTACTS, page, filters)

    def iter_contacts(self, **filters: Any) -> Iterator[JsonDict]:
        """Contacts matching Bling's query filters (`dataAlteracaoInicial`, `numeroDocumento`, ...).

        datetime values are sent as Brasília `YYYY-MM-DD HH:MM:SS`; lists as repeated parameters.
        """
        return self._iterate(CONTACTS, filters)

    def get_contact(self, contact_id: int) -> JsonDict:
        return self._get(CONTACTS, contact_id)

    def create_contact(self, body: JsonDict) -> int:
        return self._create(CONTACTS, body)

    def update_contact(self, contact_id: int, body: JsonDict) -> None:
        self._update(CONTACTS, contact_id, body)

    # --- produtos -----------------------------------------------------------------------------

    def iter_products(self, **filters: Any) -> Iterator[JsonDict]:
        return self._iterate(PRODUCTS, filters)

    def get_product(self, product_id: int) -> JsonDict:
        return self._get(PRODUCTS, product_id)

    def create_product(self, body: JsonDict) -> int:
        return self._create(PRODUCTS, body)

    def update_product(self, product_id: int, body: JsonDict) -> None:
        self._update(PRODUCTS, product_id, body)

    # --- pedidos de venda ---------------------------------------------------------------------

    def iter_sales_orders(self, **filters: Any) -> Iterator[JsonDict]:
        return self._iterate(SALES_ORDERS, filters)

    def get_invoice(self, invoice_id: int) -> JsonDict:
        """`GET /nfe/{id}`: a nota fiscal; `numeroPedidoLoja` names the pedido it was issued for."""
        return self._get("/nfe", invoice_id)

    def get_sales_order(self, order_id: int) -> JsonDict:
        return self._get(SALES_ORDERS, order_id)

    def create_sales_order(self, body: JsonDict) -> int:
        return self._create(SALES_ORDERS, body)

    def update_sales_order(self, order_id: int, body: JsonDict) -> None:
        self._update(SALES_ORDERS, order_id, body)

    # --- propostas comerciais -----------------------------------------------------------------

    def iter_proposals(self, **filters: Any) -> Iterator[JsonDict]:
        return self._iterate(PROPOSALS, filters)

    def get_proposal(self, proposal_id: int) -> JsonDict:
        return self._get(PROPOSALS, proposal_id)

    def create_proposal(self, body: JsonDict) -> int:
        return self._create(PROPOSALS, body)

    def update_proposal(self, proposal_id: int, body: JsonDict) -> None:
        self._update(PROPOSALS, proposal_id, body)

    # --- contas a pagar -----------------------------------------------------------------------

    def iter_payables(self, **filters: Any) -> Iterator[JsonDict]:
        return self._iterate(PAYABLES, filters)

    def get_payable(self, payable_id: int) -> JsonDict:
        return self._get(PAYABLES, payable_id)

    def create_payable(self, body: JsonDict) -> int:
        return self._create(PAYABLES, body)

    def update_payable(self, payable_id: int, body: JsonDict) -> None:
        self._update(PAYABLES, payable_id, body)


# --- query and error shapes -------------------------------------------------------------------


def _error_of(response: httpx.Response) -> JsonDict:
    """Bling's `error` object; `{}` when the body has another shape."""
    body = http.json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(error, str):  # plain OAuth shape: {"error": "invalid_token", "error_description": ...}
        return {"type": error, "description": body.get("error_description", "")}
    return {}


def _summary(error: JsonDict) -> str:
    parts = [str(error.get(k)) for k in ("type", "message", "description") if error.get(k)]
    return " - ".join(parts) or "(no error body)"


def _field_errors(error: JsonDict) -> list[FieldError]:
    """`error.fields[]`, each with its `collection[]` items flattened as `element[index].item`."""
    out: list[FieldError] = []
    for field in error.get("fields") or []:
        if not isinstance(field, dict):
            continue
        element = field.get("element")
        out.append(
            FieldError(
                code=field.get("code"),
                msg=str(field.get("msg") or ""),
                element=element,
                namespace=field.get("namespace"),
            )
        )
        for item in field.get("collection") or []:
            if isinstance(item, dict):
                out.append(
                    FieldError(
                        code=item.get("code"),
                        msg=str(item.get("msg") or ""),
                        element=f"{element}[{item.get('index')}].{item.get('element') or ''}".rstrip("."),
                        namespace=item.get("namespace"),
                        collection=element,
                    )
                )
    return out


def _is_scope_error(response: httpx.Response, error: JsonDict) -> bool:
    text = " ".join(str(error.get(k, "")) for k in ("type", "message", "description"))
    challenge = response.headers.get("WWW-Authenticate", "")
    return "scope" in f"{text} {challenge}".lower()


def _raise_for_status(response: httpx.Response, *, secrets: list[str | None]) -> None:
    """Maps a Bling answer to the typed errors (401 is handled by the caller, which retries)."""
    status = response.status_code
    if status < 400:
        return
    if status >= 500:
        raise http.server_error(response, service=SERVICE, secrets=secrets)
    error = _error_of(response)
    where = http.describe(response.request)
    summary = http.redact(_summary(error), secrets)
    kwargs: dict[str, Any] = {"http_status": status, "api_error_type": error.get("type")}
    if is_daily_limit(status, error):
        raise DailyQuotaExhausted(
            f"daily quota: Bling answered its daily limit on {where}: {summary}", **kwargs
        )
    if status == 429:
        raise RateLimited(
            f"Bling rate limit exceeded on {where}: {summary}",
            retry_after=http.retry_after_seconds(response),
            **kwargs,
        )
    if status == 403 and _is_scope_error(response, error):
        raise BlingScopeMissing(f"the Bling app lacks the scope for {where}: {summary}", **kwargs)
    if status == 404:
        raise NotFound(f"Bling has no {where}: {summary}", **kwargs)
    fields = _field_errors(error)
    details = "; ".join(f"{f.element}: {f.msg}" if f.element else f.msg for f in fields)
    message = f"Bling rejected {where} ({status}): {summary}" + (f" [{details}]" if details else "")
    if not error:
        message = f"Bling rejected {where} ({status}): {http.body_excerpt(response, secrets)}"
    raise ApiRejected(http.redact(message, secrets), field_errors=fields, **kwargs)
