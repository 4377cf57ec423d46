"""AuvoClient against an in-process fake answering with the blueprint's example shapes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.auvo.client import AuvoClient
from infra.auvo.wire import from_auvo_datetime, to_auvo_datetime
from infra.errors import (
    ApiRejected,
    ApiUnavailable,
    AuvoApiDeactivated,
    AuvoCredentialsInvalid,
    IntegrationError,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
)

BASE = "https://api.auvo.com.br/v2"
API_KEY = "wJFEnm661UjsWChsKhmRTalKAfvhv3qO"
API_TOKEN = "wJFEnm661Uj0pwDJiB4DTZztkB9uY0Iw"
DEACTIVATED = "Object reference not set to an instance of an object."
# The blueprint's login example: created 16:15:59, expires 16:45:59, naive Brasília (UTC-3).
CREATED_UTC = datetime(2019, 5, 8, 19, 15, 59, tzinfo=UTC)
EXPIRES_UTC = datetime(2019, 5, 8, 19, 45, 59, tzinfo=UTC)


def login_body(token: str, *, created: str = "2019-05-08 16:15:59", expiration: str | None = None) -> dict:
    result: dict[str, Any] = {
        "authenticated": True,
        "created": created,
        "accessToken": token,
        "message": "OK",
    }
    result["expiration"] = "2019-05-08 16:45:59" if expiration is None else expiration
    return {"result": result}


def customer(customer_id: int) -> dict:
    return {
        "id": customer_id,
        "externalId": str(900 + customer_id),
        "description": f"Cliente {customer_id}",
        "cpfCnpj": "90614997000162",
        "phoneNumber": ["5566123123"],
        "email": ["terenscio@customer.com"],
        "address": "lake yululu",
        "active": True,
        "creationDate": "2019-04-15T15:00:00",
        "dateLastUpdate": "2020-04-23T15:57:08",
        "contacts": [],
    }


def page_body(records: list[dict], page: int, total: int) -> dict:
    return {
        "result": {
            "entityList": records,
            "pagedSearchReturnData": {"order": 0, "pageSize": 100, "page": page, "totalItems": total},
            "links": [],
        }
    }


class Clock:
    def __init__(self, start: datetime = CREATED_UTC) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeAuvo:
    """Routes requests to per-path handlers; logs in with a new token each time."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.logins = 0
        self.valid_tokens: set[str] = set()
        self.routes: dict[tuple[str, str], Callable[[httpx.Request], httpx.Response]] = {}
        self.login_response: Callable[[httpx.Request], httpx.Response] | None = None
        self.lock = threading.Lock()

    def route(self, method: str, path: str, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.routes[(method, "/v2" + path)] = handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        if request.url.path == "/v2/login/":
            return self.login_response(request) if self.login_response else self._login(request)
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid_tokens:
            return httpx.Response(401)
        return self.routes[(request.method, request.url.path)](request)

    def _login(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        if query.get("apiKey") != [API_KEY] or query.get("apiToken") != [API_TOKEN]:
            return httpx.Response(200, json={"result": {"authenticated": False, "message": "Unauthorized"}})
        with self.lock:
            self.logins += 1
            token = f"token-{self.logins}"
            self.valid_tokens.add(token)
        return httpx.Response(200, json=login_body(token))

    def data_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/v2/login/"]


@pytest.fixture
def fake() -> FakeAuvo:
    return FakeAuvo()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_client(fake: FakeAuvo, clock: Clock, **kwargs: Any) -> AuvoClient:
    return AuvoClient(BASE, API_KEY, API_TOKEN, transport=httpx.MockTransport(fake), clock=clock, **kwargs)


def one_customer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"result": customer(42)})


def assert_no_secret(exc: BaseException, *extra: str) -> None:
    text = str(exc)
    if isinstance(exc, IntegrationError):
        text += json.dumps(exc.diagnosis())
    for secret in (API_KEY, API_TOKEN, "token-1", "token-2", *extra):
        assert secret not in text


# --- dates --------------------------------------------------------------------------------------


def test_auvo_datetimes_are_naive_brasilia() -> None:
    assert to_auvo_datetime(datetime(2024, 1, 31, 3, 0, 5, tzinfo=UTC)) == "2024-01-31T00:00:05"
    plus_two = timezone(timedelta(hours=2))
    assert to_auvo_datetime(datetime(2024, 1, 31, 5, 0, tzinfo=plus_two)) == "2024-01-31T00:00:00"
    assert from_auvo_datetime("2016-03-23T18:10:00") == datetime(2016, 3, 23, 21, 10, tzinfo=UTC)
    assert from_auvo_datetime("2019-05-08 16:45:59") == EXPIRES_UTC
    assert from_auvo_datetime("2016-03-23T18:10:00.123") == datetime(
        2016, 3, 23, 21, 10, 0, 123000, tzinfo=UTC
    )


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        to_auvo_datetime(datetime(2024, 1, 1))


# --- login and token lifetime -------------------------------------------------------------------


def test_logs_in_lazily_and_sends_bearer(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/42", one_customer)
    client = make_client(fake, clock)
    assert fake.requests == []
    assert client.get_customer(42)["description"] == "Cliente 42"
    login, call = fake.requests
    assert login.method == "GET" and login.url.path == "/v2/login/"
    assert call.headers["Authorization"] == "Bearer token-1"
    client.get_customer(42)
    assert fake.logins == 1


def test_check_logs_in_now(fake: FakeAuvo, clock: Clock) -> None:
    make_client(fake, clock).check()
    assert fake.logins == 1


def test_renews_two_minutes_before_expiration(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/42", one_customer)
    client = make_client(fake, clock)
    client.get_customer(42)
    clock.now = EXPIRES_UTC.timestamp() - 125
    client.get_customer(42)
    assert fake.logins == 1
    clock.now = EXPIRES_UTC.timestamp() - 115
    client.get_customer(42)
    assert fake.logins == 2
    assert fake.data_requests()[-1].headers["Authorization"] == "Bearer token-2"


def test_expiry_falls_back_to_created_plus_30_minutes(fake: FakeAuvo, clock: Clock) -> None:
    fake.login_response = lambda r: _login_once(fake, expiration="")
    fake.route("GET", "/customers/42", one_customer)
    client = make_client(fake, clock)
    client.get_customer(42)
    clock.now = (CREATED_UTC + timedelta(minutes=27)).timestamp()
    client.get_customer(42)
    assert fake.logins == 1
    clock.now = (CREATED_UTC + timedelta(minutes=28, seconds=30)).timestamp()
    client.get_customer(42)
    assert fake.logins == 2


def test_expiry_in_the_past_does_not_cause_a_login_per_call(fake: FakeAuvo, clock: Clock) -> None:
    # Server clock an hour behind ours: its "expiration" is already past for us.
    fake.login_response = lambda r: _login_once(
        fake, created="2019-05-08 15:15:59", expiration="2019-05-08 15:45:59"
    )
    fake.route("GET", "/customers/42", one_customer)
    client = make_client(fake, clock)
    for _ in range(3):
        client.get_customer(42)
    assert fake.logins == 1


def _login_once(fake: FakeAuvo, **kwargs: str) -> httpx.Response:
    fake.logins += 1
    token = f"token-{fake.logins}"
    fake.valid_tokens.add(token)
    return httpx.Response(200, json=login_body(token, **kwargs))


def test_relogs_in_once_on_401_and_retries(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/42", one_customer)
    client = make_client(fake, clock)
    client.get_customer(42)
    fake.valid_tokens.clear()  # Auvo forgot the token before its expiry
    assert client.get_customer(42)["id"] == 42
    assert fake.logins == 2
    assert [r.headers["Authorization"] for r in fake.data_requests()] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_second_401_is_permanent(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/42", lambda r: httpx.Response(401))
    fake.routes[("GET", "/v2/customers/42")] = lambda r: httpx.Response(401)
    client = make_client(fake, clock)
    with pytest.raises(AuvoCredentialsInvalid) as info:
        client.get_customer(42)
    assert fake.logins == 2
    assert_no_secret(info.value)


def test_wrong_credentials(fake: FakeAuvo, clock: Clock) -> None:
    client = AuvoClient(BASE, API_KEY, "wrong-token-value", transport=httpx.MockTransport(fake), clock=clock)
    with pytest.raises(AuvoCredentialsInvalid, match="wrong Auvo API key or token") as info:
        client.check()
    assert isinstance(info.value, PermanentError)
    assert_no_secret(info.value, "wrong-token-value")


def test_login_400_is_wrong_credentials(fake: FakeAuvo, clock: Clock) -> None:
    fake.login_response = lambda r: httpx.Response(400, json={"apiKey": ["The value '\"\"' is not valid."]})
    with pytest.raises(AuvoCredentialsInvalid):
        make_client(fake, clock).check()


@pytest.mark.parametrize("status", [200, 400, 401, 500])
def test_deactivated_api_on_login(fake: FakeAuvo, clock: Clock, status: int) -> None:
    fake.login_response = lambda r: httpx.Response(status, json={"message": DEACTIVATED})
    with pytest.raises(AuvoApiDeactivated) as info:
        make_client(fake, clock).check()
    assert "Integrações" in info.value.hint
    assert_no_secret(info.value)


def test_deactivated_api_on_data_call(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/42", lambda r: httpx.Response(500, text=DEACTIVATED))
    with pytest.raises(AuvoApiDeactivated):
        make_client(fake, clock).get_customer(42)


def test_login_is_done_once_by_concurrent_threads(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/42", one_customer)
    client = make_client(fake, clock)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.get_customer(42)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and fake.logins == 1


# --- error mapping ------------------------------------------------------------------------------


def test_403_rate_limit_is_transient(fake: FakeAuvo, clock: Clock) -> None:
    fake.route(
        "GET",
        "/customers/42",
        lambda r: httpx.Response(403, json={"error": "Rate limit temporarily exceeded"}),
    )
    with pytest.raises(RateLimited) as info:
        make_client(fake, clock).get_customer(42)
    assert isinstance(info.value, TransientError) and info.value.http_status == 403


def test_other_403_is_rejected(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/42", lambda r: httpx.Response(403, json={"message": "Forbidden"}))
    with pytest.raises(ApiRejected):
        make_client(fake, clock).get_customer(42)


def test_400_field_errors(fake: FakeAuvo, clock: Clock) -> None:
    fake.route(
        "GET", "/customers/x", lambda r: httpx.Response(400, json={"id": ["The value 'x' is not valid."]})
    )
    with pytest.raises(ApiRejected) as info:
        make_client(fake, clock).get_customer("x")
    error = info.value
    assert error.http_status == 400
    assert [(f.element, f.msg) for f in error.field_errors] == [("id", "The value 'x' is not valid.")]
    assert "The value 'x' is not valid." in str(error)


def test_400_message_shape(fake: FakeAuvo, clock: Clock) -> None:
    body = {
        "message": "The paramFilter is required as ParamUserFilter string json.",
        "target": None,
        "errorCode": 0,
        "errors": None,
    }
    fake.route("PUT", "/customers/", lambda r: httpx.Response(400, json=body))
    with pytest.raises(ApiRejected, match="paramFilter is required"):
        make_client(fake, clock).upsert_customer({"description": "x"})


def test_404_on_get_by_id_is_not_found(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/tasks/7", lambda r: httpx.Response(404))
    with pytest.raises(NotFound):
        make_client(fake, clock).get_task(7)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable(fake: FakeAuvo, clock: Clock, status: int) -> None:
    fake.route("GET", "/customers/42", lambda r: httpx.Response(status, text="upstream error"))
    with pytest.raises(ApiUnavailable) as info:
        make_client(fake, clock).get_customer(42)
    assert info.value.http_status == status


@pytest.mark.parametrize(
    "exc",
    [httpx.ReadTimeout("timed out"), httpx.ConnectTimeout("timed out"), httpx.ConnectError("refused")],
)
def test_transport_failures_are_unavailable(clock: Clock, exc: Exception) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    client = AuvoClient(BASE, API_KEY, API_TOKEN, transport=httpx.MockTransport(boom), clock=clock)
    with pytest.raises(ApiUnavailable) as info:
        client.check()  # the login URL carries the key and token in its query
    assert info.value.__cause__ is None
    assert "/v2/login/" in str(info.value)
    assert_no_secret(info.value)


def test_secrets_echoed_in_bodies_are_redacted(fake: FakeAuvo, clock: Clock) -> None:
    echo = {"message": f"bad request for apiKey={API_KEY}&apiToken={API_TOKEN} token-1"}
    fake.route("POST", "/customers/", lambda r: httpx.Response(422, json=echo))
    with pytest.raises(ApiRejected) as info:
        make_client(fake, clock).create_customer({"name": "x"})
    assert_no_secret(info.value)


def test_throttle_is_called_before_every_request(fake: FakeAuvo, clock: Clock) -> None:
    calls: list[int] = []
    fake.route("GET", "/customers/42", one_customer)
    client = make_client(fake, clock, throttle=lambda: calls.append(len(fake.requests)))
    client.get_customer(42)
    client.get_customer(42)
    assert calls == [0, 1, 2]


# --- lists --------------------------------------------------------------------------------------


def paged(records: list[dict], size: int = 100) -> Callable[[httpx.Request], httpx.Response]:
    """Serves `records` in pages; answers 404 past the end, as Auvo does."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        chunk = records[(page - 1) * size : page * size]
        if not chunk:
            return httpx.Response(404)
        return httpx.Response(200, json=page_body(chunk, page, len(records)))

    return handler


def test_iter_customers_pages_and_stops_at_total_items(fake: FakeAuvo, clock: Clock) -> None:
    records = [customer(i) for i in range(1, 201)]
    fake.route("GET", "/customers/", paged(records))
    got = list(make_client(fake, clock).iter_customers({"active": True}))
    assert [c["id"] for c in got] == list(range(1, 201))
    pages = fake.data_requests()
    # totalItems (200) says the second page was the last one; no third request is needed.
    assert [r.url.params["page"] for r in pages] == ["1", "2"]
    first = pages[0].url.params
    assert first["pageSize"] == "100" and first["order"] == "asc"
    assert json.loads(first["paramFilter"]) == {"active": True}
    assert "paramFilter=%7B%22active%22%3Atrue%7D" in str(pages[0].url)


def test_iter_pages_until_404_without_totals(fake: FakeAuvo, clock: Clock) -> None:
    records = [customer(i) for i in range(1, 201)]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        chunk = records[(page - 1) * 100 : page * 100]
        return httpx.Response(200, json={"result": {"entityList": chunk}}) if chunk else httpx.Response(404)

    fake.route("GET", "/customers/", handler)
    assert len(list(make_client(fake, clock).iter_customers())) == 200
    assert [r.url.params["page"] for r in fake.data_requests()] == ["1", "2", "3"]


def test_short_page_ends_the_list(fake: FakeAuvo, clock: Clock) -> None:
    fake.route(
        "GET", "/customers/", lambda r: httpx.Response(200, json={"result": {"entityList": [customer(1)]}})
    )
    assert len(list(make_client(fake, clock).iter_customers())) == 1
    assert len(fake.data_requests()) == 1


def test_server_ignoring_page_does_not_loop(fake: FakeAuvo, clock: Clock) -> None:
    full = {"result": {"entityList": [customer(i) for i in range(100)]}}
    fake.route("GET", "/customerGroups/9/clients/", lambda r: httpx.Response(200, json=full))
    assert len(list(make_client(fake, clock).iter_group_clients(9))) == 100
    assert len(fake.data_requests()) == 2


def test_customers_page_is_empty_past_the_end(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/customers/", paged([customer(1)]))
    client = make_client(fake, clock)
    assert [c["id"] for c in client.customers_page(None, 1)] == [1]
    assert client.customers_page(None, 2) == []
    assert json.loads(fake.data_requests()[0].url.params["paramFilter"]) == {}


def test_iter_tasks_sends_the_window_and_status(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/tasks/", paged([{"taskID": 23, "taskStatus": 5}]))
    start = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    tasks = list(make_client(fake, clock).iter_tasks(start, start + timedelta(days=1), 3, {"type": 23}))
    assert tasks == [{"taskID": 23, "taskStatus": 5}]
    sent = json.loads(fake.data_requests()[0].url.params["paramFilter"])
    assert sent == {
        "startDate": "2024-05-01T00:00:00",
        "endDate": "2024-05-02T00:00:00",
        "status": 3,
        "type": 23,
    }


def test_iter_expenses_sends_the_window(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/expenses/", paged([{"id": 23, "description": "expense", "amount": 497827}]))
    start = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    assert len(list(make_client(fake, clock).iter_expenses(start, start + timedelta(hours=1)))) == 1
    sent = json.loads(fake.data_requests()[0].url.params["paramFilter"])
    assert sent == {"startDate": "2024-05-01T00:00:00", "endDate": "2024-05-01T01:00:00"}


@pytest.mark.parametrize(
    ("method", "path", "args"),
    [
        ("iter_customer_groups", "/customerGroups/", ()),
        ("iter_group_clients", "/customerGroups/5/clients/", (5,)),
        ("iter_task_types", "/taskTypes/", ()),
        ("iter_quotations", "/quotations/", ({"CurrentStage": "Aprovado"},)),
        ("iter_products", "/products/", ()),
        ("iter_services", "/services/", ()),
        ("iter_webhooks", "/webHooks/", ()),
    ],
)
def test_list_paths(fake: FakeAuvo, clock: Clock, method: str, path: str, args: tuple) -> None:
    fake.route("GET", path, paged([{"id": 1}]))
    assert list(getattr(make_client(fake, clock), method)(*args)) == [{"id": 1}]


def test_get_quotation(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("GET", "/quotations/42", lambda r: httpx.Response(200, json={"result": {"publicId": 42}}))
    assert make_client(fake, clock).get_quotation(42) == {"publicId": 42}


# --- writes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "created"), [(201, True), (200, False)])
def test_upsert_customer(fake: FakeAuvo, clock: Clock, status: int, created: bool) -> None:
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(status, json={"result": {**customer(42), **sent[-1]}})

    fake.route("PUT", "/customers/", handler)
    body = {"externalId": "906", "description": "Terêscio", "cpfCnpj": "90614997000162"}
    record, was_created = make_client(fake, clock).upsert_customer(body)
    assert (record["id"], was_created) == (42, created)
    assert sent == [body]
    assert fake.data_requests()[0].headers["Content-Type"] == "application/json"


def test_create_customer(fake: FakeAuvo, clock: Clock) -> None:
    fake.route("POST", "/customers/", lambda r: httpx.Response(201, json={"result": customer(42)}))
    assert make_client(fake, clock).create_customer({"name": "Terêscio"})["id"] == 42


def test_webhooks(fake: FakeAuvo, clock: Clock) -> None:
    hook = {
        "id": "123",
        "userId": 12345,
        "entity": "Task",
        "action": "Inclusao",
        "urlResponse": "https://example.test/hook",
        "active": "true",
    }
    fake.route("POST", "/webHooks/", lambda r: httpx.Response(201, json={"result": hook}))
    fake.route("DELETE", "/webHooks/123", lambda r: httpx.Response(204))
    client = make_client(fake, clock)
    body = {"entity": "Task", "action": "Inclusao", "targetUrl": "https://example.test/hook", "active": True}
    assert client.create_webhook(body)["id"] == "123"
    assert client.delete_webhook(123) is None
    assert json.loads(fake.data_requests()[0].content) == body
