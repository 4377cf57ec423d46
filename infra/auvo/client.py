"""HTTP client of the Auvo API v2 (field service), returning raw JSON records as dicts.

Auvo has no refresh tokens: a login with the account's API key and token yields a bearer token that
lasts 30 minutes, so the client logs in lazily, renews shortly before expiry and once more when a call
answers 401. Failures become the typed errors of `infra.errors` so the bus runner can tell "retry
later" from "a person must act" without reading HTTP details.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from infra import http
from infra.auvo.wire import from_auvo_datetime, to_auvo_datetime
from infra.errors import (
    ApiRejected,
    ApiUnavailable,
    AuvoApiDeactivated,
    AuvoCredentialsInvalid,
    FieldError,
    NotFound,
    RateLimited,
)

SERVICE = "Auvo"
PAGE_SIZE = 100
TOKEN_LIFETIME_S = 30 * 60
RENEW_MARGIN_S = 2 * 60
# Longest expiry we believe: anything beyond means the server's clock or zone disagrees with ours.
_MAX_BELIEVED_LIFETIME_S = 24 * 60 * 60
DEACTIVATED_MARKER = "Object reference not set to an instance of an object"
RATE_LIMIT_MARKER = "Rate limit temporarily exceeded"
_MESSAGE_KEYS = ("message", "Message", "error", "title", "detail")

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class _Session:
    """A logged-in token; out of repr so it can never reach a log line that way."""

    token: str = field(repr=False)
    expires_at: float = 0.0


class AuvoClient:
    """Synchronous, thread-safe Auvo API v2 client; one instance per process is enough."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_token: str,
        *,
        throttle: http.Throttle | None = None,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._api_key = api_key
        self._api_token = api_token
        self._throttle = throttle
        self._clock = clock
        self.requests = http.RequestCount()
        self._http = http.build_client(
            base_url, timeout=timeout, connect_timeout=connect_timeout, transport=transport
        )
        self._lock = threading.Lock()
        self._session: _Session | None = None

    def __repr__(self) -> str:
        return f"AuvoClient(base_url={str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AuvoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- authentication -----------------------------------------------------------------------

    def check(self) -> None:
        """Logs in now, so `auvo-bling check` reports wrong credentials or a deactivated API at once."""
        with self._lock:
            self._session = self._login()

    def _access_token(self) -> str:
        with self._lock:
            session = self._session
            if session is None or self._clock() >= session.expires_at - RENEW_MARGIN_S:
                session = self._session = self._login()
            return session.token

    def _token_after_rejection(self, rejected: str) -> str:
        """Logs in again unless another thread already replaced the rejected token."""
        with self._lock:
            if self._session is None or self._session.token == rejected:
                self._session = self._login()
            return self._session.token

    def _login(self) -> _Session:
        request = self._http.build_request(
            "GET", "/login/", params={"apiKey": self._api_key, "apiToken": self._api_token}
        )
        response = self._send(request)
        if response.status_code in (400, 401, 404):
            raise AuvoCredentialsInvalid(
                f"wrong Auvo API key or token (login answered {response.status_code})",
                http_status=response.status_code,
            )
        self._raise_for_status(response)
        result = _result(http.json_body(response))
        if not isinstance(result, dict) or result.get("authenticated") is not True:
            raise AuvoCredentialsInvalid("wrong Auvo API key or token", http_status=response.status_code)
        token = result.get("accessToken")
        if not isinstance(token, str) or not token:
            raise ApiUnavailable("Auvo login answered authenticated without an accessToken")
        return _Session(token=token, expires_at=self._expiry(result))

    def _expiry(self, result: JsonDict) -> float:
        """When to consider the token expired: Auvo's `expiration`, else `created` + 30 min.

        A value in the past or implausibly far ahead means the server's clock or zone disagrees with
        ours; trusting it would log in on every call (or never), so we fall back to now + 30 min and
        let the 401 re-login cover the rest.
        """
        now = self._clock()
        candidates: list[float] = []
        for key, offset in (("expiration", 0), ("created", TOKEN_LIFETIME_S)):
            value = result.get(key)
            if isinstance(value, str) and value.strip():
                try:
                    candidates.append(from_auvo_datetime(value).timestamp() + offset)
                except ValueError:
                    continue
        for candidate in candidates:
            if now + RENEW_MARGIN_S < candidate <= now + _MAX_BELIEVED_LIFETIME_S:
                return candidate
        return now + TOKEN_LIFETIME_S

    # --- transport ----------------------------------------------------------------------------

    def _secrets(self) -> list[str | None]:
        session = self._session
        return [self._api_key, self._api_token, session.token if session else None]

    def _send(self, request: httpx.Request) -> httpx.Response:
        response = http.send(
            self._http,
            request,
            service=SERVICE,
            throttle=self._throttle,
            secrets=self._secrets(),
            counter=self.requests,
        )
        if DEACTIVATED_MARKER in response.text:
            raise AuvoApiDeactivated(
                "the Auvo API is deactivated (Auvo answered "
                f'"{DEACTIVATED_MARKER}." to {http.describe(request)})',
                http_status=response.status_code,
            )
        return response

    def _send_with(self, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request = self._http.build_request(
            method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
        return self._send(request)

    def _call(self, method: str, path: str, *, end_on_404: bool = False, **kwargs: Any) -> httpx.Response:
        """One authorized call: renews the token if due, re-logs-in once on 401, maps failures."""
        token = self._access_token()
        response = self._send_with(token, method, path, **kwargs)
        if response.status_code == 401:
            response = self._send_with(self._token_after_rejection(token), method, path, **kwargs)
            if response.status_code == 401:
                raise AuvoCredentialsInvalid(
                    f"Auvo rejected a freshly issued access token on {http.describe(response.request)}",
                    http_status=401,
                )
        if end_on_404 and response.status_code == 404:
            return response
        self._raise_for_status(response)
        return response

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status == 429 or (status == 403 and RATE_LIMIT_MARKER.lower() in response.text.lower()):
            raise RateLimited(
                f"Auvo rate limit exceeded on {http.describe(response.request)}",
                http_status=status,
                retry_after=http.retry_after_seconds(response),
            )
        if status >= 500:
            raise http.server_error(response, service=SERVICE, secrets=self._secrets())
        if status == 404:
            raise NotFound(f"Auvo has no {http.describe(response.request)}", http_status=404)
        raise self._rejection(response)

    def _rejection(self, response: httpx.Response) -> ApiRejected:
        messages, fields = _auvo_complaints(http.json_body(response))
        detail = "; ".join(messages + [f"{f.element}: {f.msg}" for f in fields])
        detail = (
            http.redact(detail, self._secrets()) if detail else http.body_excerpt(response, self._secrets())
        )
        return ApiRejected(
            f"Auvo rejected {http.describe(response.request)} ({response.status_code}): {detail}",
            http_status=response.status_code,
            field_errors=fields,
        )

    def _get_result(self, path: str, **kwargs: Any) -> Any:
        return self._result_of(self._call("GET", path, **kwargs))

    def _result_of(self, response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        body = http.json_body(response)
        if body is None:
            raise ApiUnavailable(
                f"Auvo answered {response.status_code} to {http.describe(response.request)} with a body "
                f"that is not JSON: {http.body_excerpt(response, self._secrets())}",
                http_status=response.status_code,
            )
        return _result(body)

    # --- paging -------------------------------------------------------------------------------

    def _page(self, path: str, param_filter: JsonDict | None, page: int) -> tuple[list[JsonDict], int | None]:
        """One page and the total Auvo reports; Auvo answers 404 past the last page (the end)."""
        params = {
            "paramFilter": json.dumps(param_filter or {}, ensure_ascii=False, separators=(",", ":")),
            "page": page,
            "pageSize": PAGE_SIZE,
            "order": "asc",
        }
        response = self._call("GET", path, params=params, end_on_404=True)
        if response.status_code == 404:
            return [], None
        return _entity_list(self._result_of(response))

    def _iterate(self, path: str, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        total: list[int | None] = [None]

        def fetch(page: int) -> list[JsonDict]:
            records, total[0] = self._page(path, param_filter, page)
            return records

        return http.paginate(fetch, page_size=PAGE_SIZE, total_items=lambda: total[0])

    def _get_by_id(self, path: str, entity_id: int | str) -> JsonDict:
        result = self._get_result(f"{path}{entity_id}")
        if not isinstance(result, dict):
            raise NotFound(f"Auvo answered no record for {path}{entity_id}", http_status=200)
        return result

    # --- customers ----------------------------------------------------------------------------

    def customers_page(self, param_filter: JsonDict | None = None, page: int = 1) -> list[JsonDict]:
        """One page of customers ([] past the end), for callers that checkpoint per page."""
        return self._page("/customers/", param_filter, page)[0]

    def iter_customers(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/customers/", param_filter)

    def get_customer(self, customer_id: int | str) -> JsonDict:
        return self._get_by_id("/customers/", customer_id)

    def upsert_customer(self, body: JsonDict) -> tuple[JsonDict, bool]:
        """PUT /customers/ matches on `id` or `externalId`; 201 means created, 200 means updated."""
        response = self._call("PUT", "/customers/", json=body)
        return _as_record(self._result_of(response)), response.status_code == 201

    def create_customer(self, body: JsonDict) -> JsonDict:
        return _as_record(self._result_of(self._call("POST", "/customers/", json=body)))

    # --- customer groups ----------------------------------------------------------------------

    def iter_customer_groups(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/customerGroups/", param_filter)

    def iter_group_clients(self, group_id: int | str) -> Iterator[JsonDict]:
        return self._iterate(f"/customerGroups/{group_id}/clients/")

    # --- tasks --------------------------------------------------------------------------------

    def iter_task_types(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/taskTypes/", param_filter)

    def iter_tasks(
        self,
        start: datetime,
        end: datetime,
        status: int | None = None,
        extra_filter: JsonDict | None = None,
    ) -> Iterator[JsonDict]:
        """Tasks in [start, end]; `status` is Auvo's filter (0 not finished .. 4 all)."""
        return self._iterate("/tasks/", _window_filter(start, end, extra_filter, status=status))

    def get_task(self, task_id: int | str) -> JsonDict:
        return self._get_by_id("/tasks/", task_id)

    # --- a job's outcome on its task (issue 17, item 3) ----------------------------------------

    def patch_task(self, task_id: int | str, operations: list[JsonDict]) -> JsonDict:
        """`PATCH /tasks/{id}` with a JSON Patch document (the blueprint's TaskPatch attributes)."""
        return _as_record(self._result_of(self._call("PATCH", f"/tasks/{task_id}", json=operations)))

    def iter_keywords(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/keywords/", param_filter)

    def create_keyword(self, description: str) -> JsonDict:
        response = self._call("POST", "/keywords/", json={"description": description})
        return _as_record(self._result_of(response))

    # --- quotations, catalogue, expenses ------------------------------------------------------

    def iter_quotations(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/quotations/", param_filter)

    def get_quotation(self, quotation_id: int | str) -> JsonDict:
        return self._get_by_id("/quotations/", quotation_id)

    def iter_products(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/products/", param_filter)

    def get_product(self, product_id: int | str) -> JsonDict:
        """`GET /products/{id}`; a quotation line names its product this way (id or code)."""
        return self._get_by_id("/products/", product_id)

    def iter_services(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/services/", param_filter)

    # --- the catalogue written from Bling (issue 17, item 2) -----------------------------------

    def get_service(self, service_id: str) -> JsonDict:
        return self._get_by_id("/services/", service_id)

    def create_catalog_item(self, kind: str, body: JsonDict) -> JsonDict:
        """`POST /products/` or `POST /services/`; the created record."""
        return _as_record(self._result_of(self._call("POST", _catalog_path(kind), json=body)))

    def patch_catalog_item(self, kind: str, item_id: str, ops: list[JsonDict]) -> JsonDict:
        """`PATCH /products/{id}` or `PATCH /services/{id}` with a JSON Patch document."""
        response = self._call("PATCH", f"{_catalog_path(kind)}{item_id}", json=ops)
        return _as_record(self._result_of(response))

    def iter_expenses(
        self, start: datetime, end: datetime, extra_filter: JsonDict | None = None
    ) -> Iterator[JsonDict]:
        """Expenses dated in [start, end]; Auvo requires both dates on /expenses."""
        return self._iterate("/expenses/", _window_filter(start, end, extra_filter))

    # --- webhooks -----------------------------------------------------------------------------

    def iter_webhooks(self, param_filter: JsonDict | None = None) -> Iterator[JsonDict]:
        return self._iterate("/webHooks/", param_filter)

    def create_webhook(self, body: JsonDict) -> JsonDict:
        return _as_record(self._result_of(self._call("POST", "/webHooks/", json=body)))

    def delete_webhook(self, webhook_id: int | str) -> None:
        self._call("DELETE", f"/webHooks/{webhook_id}")


# --- body shapes ----------------------------------------------------------------------------------


def _catalog_path(kind: str) -> str:
    return "/products/" if kind == "product" else "/services/"


def _result(body: Any) -> Any:
    """Unwraps Auvo's `{"result": ...}` envelope; tolerates a body that is the payload itself."""
    if isinstance(body, dict) and "result" in body:
        return body["result"]
    return body


def _as_record(result: Any) -> JsonDict:
    return result if isinstance(result, dict) else {}


def _entity_list(result: Any) -> tuple[list[JsonDict], int | None]:
    """Records of a list answer (`result.entityList`) and `pagedSearchReturnData.totalItems`."""
    if isinstance(result, list):
        return [r for r in result if isinstance(r, dict)], None
    if not isinstance(result, dict):
        return [], None
    records = result.get("entityList") or []
    paging = result.get("pagedSearchReturnData")
    total = paging.get("totalItems") if isinstance(paging, dict) else None
    return [r for r in records if isinstance(r, dict)], total if isinstance(total, int) else None


def _window_filter(
    start: datetime, end: datetime, extra: JsonDict | None, *, status: int | None = None
) -> JsonDict:
    """paramFilter of the date-windowed lists; `startDate`/`endDate` are required there."""
    param_filter: JsonDict = {"startDate": to_auvo_datetime(start), "endDate": to_auvo_datetime(end)}
    if status is not None:
        param_filter["status"] = status
    return {**param_filter, **(extra or {})}


def _auvo_complaints(body: Any) -> tuple[list[str], list[FieldError]]:
    """Messages and field errors from Auvo's error shapes.

    Seen in the blueprint: `{"field": ["msg"]}` (model validation), `{"message", "errors", ...}`
    and `{"error": "..."}`; ASP.NET's `{"title", "errors": {"field": [...]}}` is read the same way.
    """
    messages: list[str] = []
    fields: list[FieldError] = []
    if isinstance(body, str):
        return [body], []
    if not isinstance(body, dict):
        return [], []
    for key, value in body.items():
        if key in _MESSAGE_KEYS and isinstance(value, str) and value:
            messages.append(value)
        elif key == "errors":
            fields.extend(_field_errors(value))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            fields.extend(FieldError(msg=v, element=key) for v in value)
    return messages, fields


def _field_errors(value: Any) -> list[FieldError]:
    if isinstance(value, dict):
        out: list[FieldError] = []
        for element, msgs in value.items():
            for msg in msgs if isinstance(msgs, list) else [msgs]:
                out.append(FieldError(msg=str(msg), element=str(element)))
        return out
    if isinstance(value, list):
        return [
            FieldError(msg=str(item.get("message") or item.get("msg") or item), element=item.get("field"))
            if isinstance(item, dict)
            else FieldError(msg=str(item))
            for item in value
        ]
    return []
