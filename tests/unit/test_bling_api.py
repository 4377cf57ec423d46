"""BlingClient against an in-process fake answering with the OpenAPI document's shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infra.bling.client import BlingClient
from infra.bling.wire import to_bling_date, to_bling_datetime
from infra.errors import (
    ApiRejected,
    ApiUnavailable,
    BlingAuthorizationRevoked,
    BlingScopeMissing,
    IntegrationError,
    NotFound,
    RateLimited,
)

BASE = "https://api.bling.com.br/Api/v3"
TOKEN_1 = "a1b2c3d4e5f6-access-token-one"
TOKEN_2 = "f6e5d4c3b2a1-access-token-two"

Handler = Callable[[httpx.Request], httpx.Response]


class Tokens:
    """A BlingTokenSource double that records refresh requests."""

    def __init__(self) -> None:
        self.current = TOKEN_1
        self.rejected: list[str] = []

    def access_token(self) -> str:
        return self.current

    def refreshed_after_rejection(self, rejected: str) -> str:
        self.rejected.append(rejected)
        self.current = TOKEN_2
        return self.current


class FakeBling:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Handler] = {}

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, "/Api/v3" + path)] = handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.routes[(request.method, request.url.path)](request)


def error(status: int, type_: str, message: str, description: str = "", **extra: Any) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"type": type_, "message": message, "description": description, **extra}}
    )


def contact(contact_id: int) -> dict:
    return {
        "id": contact_id,
        "nome": f"Contato {contact_id}",
        "codigo": "ASD001",
        "situacao": "A",
        "numeroDocumento": "123.456.789-10",
        "telefone": "(54) 3333-4444",
        "celular": "(54) 99999-8888",
    }


def paged(records: list[dict], limit: int = 100) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["pagina"])
        return httpx.Response(200, json={"data": records[(page - 1) * limit : page * limit]})

    return handler


@pytest.fixture
def fake() -> FakeBling:
    return FakeBling()


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()


def make_client(fake: FakeBling | Handler, tokens: Tokens, **kwargs: Any) -> BlingClient:
    return BlingClient(BASE, tokens, transport=httpx.MockTransport(fake), **kwargs)


def assert_no_secret(exc: BaseException) -> None:
    text = str(exc)
    if isinstance(exc, IntegrationError):
        text += json.dumps(exc.diagnosis())
    assert TOKEN_1 not in text and TOKEN_2 not in text


# --- dates --------------------------------------------------------------------------------------


def test_bling_datetimes_are_brasilia_local() -> None:
    assert to_bling_datetime(datetime(2024, 1, 31, 2, 30, 5, tzinfo=UTC)) == "2024-01-30 23:30:05"
    assert to_bling_date(datetime(2024, 1, 31, 2, 30, tzinfo=UTC)) == "2024-01-30"
    with pytest.raises(ValueError):
        to_bling_datetime(datetime(2024, 1, 31))


# --- lists --------------------------------------------------------------------------------------


def test_iter_contacts_pages_until_the_empty_page(fake: FakeBling, tokens: Tokens) -> None:
    records = [contact(i) for i in range(1, 151)]
    fake.route("GET", "/contatos", paged(records))
    got = list(make_client(fake, tokens).iter_contacts())
    assert [c["id"] for c in got] == list(range(1, 151))
    params = [r.url.params for r in fake.requests]
    assert [(p["pagina"], p["limite"]) for p in params] == [("1", "100"), ("2", "100"), ("3", "100")]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN_1}" for r in fake.requests)


def test_short_page_is_not_trusted_as_the_end(fake: FakeBling, tokens: Tokens) -> None:
    # An implementation capping `limite` below 100 must not make us miss records.
    fake.route("GET", "/contatos", paged([contact(i) for i in range(1, 61)], limit=50))
    assert len(list(make_client(fake, tokens).iter_contacts())) == 60


def test_iter_contacts_filters(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/contatos", paged([]))
    since = datetime(2024, 3, 1, 15, 0, 0, tzinfo=UTC)
    list(
        make_client(fake, tokens).iter_contacts(
            dataAlteracaoInicial=since,
            dataAlteracaoFinal="2024-03-02 00:00:00",
            numeroDocumento="12345678910",
        )
    )
    params = fake.requests[0].url.params
    assert params["dataAlteracaoInicial"] == "2024-03-01 12:00:00"
    assert params["dataAlteracaoFinal"] == "2024-03-02 00:00:00"
    assert params["numeroDocumento"] == "12345678910"


def test_contacts_page(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/contatos", paged([contact(1)]))
    client = make_client(fake, tokens)
    assert [c["id"] for c in client.contacts_page(1, pesquisa="Contato")] == [1]
    assert client.contacts_page(2) == []
    assert fake.requests[0].url.params["pesquisa"] == "Contato"


def test_server_ignoring_pagina_does_not_loop(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/produtos", lambda r: httpx.Response(200, json={"data": [{"id": 1}]}))
    assert list(make_client(fake, tokens).iter_products()) == [{"id": 1}]
    assert len(fake.requests) == 2


# --- single records -----------------------------------------------------------------------------


def test_get_contact(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/contatos/12345678", lambda r: httpx.Response(200, json={"data": contact(12345678)}))
    assert make_client(fake, tokens).get_contact(12345678)["nome"] == "Contato 12345678"


def test_get_missing_contact(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/contatos/1", lambda r: error(404, "RESOURCE_NOT_FOUND", "Recurso não encontrado"))
    with pytest.raises(NotFound) as info:
        make_client(fake, tokens).get_contact(1)
    assert info.value.api_error_type == "RESOURCE_NOT_FOUND"


def test_create_contact_returns_the_id(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("POST", "/contatos", lambda r: httpx.Response(201, json={"data": {"id": 12345678}}))
    body = {"nome": "Contato", "situacao": "A", "tipo": "J", "numeroDocumento": "12345678000190"}
    assert make_client(fake, tokens).create_contact(body) == 12345678
    sent = fake.requests[0]
    assert json.loads(sent.content) == body
    assert sent.headers["Content-Type"] == "application/json"


def test_update_contact_accepts_204(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("PUT", "/contatos/12345678", lambda r: httpx.Response(204))
    assert make_client(fake, tokens).update_contact(12345678, {"nome": "Novo nome"}) is None
    assert json.loads(fake.requests[0].content) == {"nome": "Novo nome"}


def test_create_payable_reads_the_unwrapped_id(fake: FakeBling, tokens: Tokens) -> None:
    # The document declares POST /contas/pagar's 201 as BasePostResponse itself, not under `data`.
    fake.route("POST", "/contas/pagar", lambda r: httpx.Response(201, json={"id": 12345678}))
    assert make_client(fake, tokens).create_payable({"vencimento": "2024-01-01"}) == 12345678


@pytest.mark.parametrize(
    ("prefix", "create", "update", "get", "iterate", "update_status", "update_body"),
    [
        (
            "/produtos",
            "create_product",
            "update_product",
            "get_product",
            "iter_products",
            200,
            {"data": {"id": 6423817751, "warnings": []}},
        ),
        (
            "/pedidos/vendas",
            "create_sales_order",
            "update_sales_order",
            "get_sales_order",
            "iter_sales_orders",
            200,
            {"data": {"id": 12345678, "alertas": []}},
        ),
        (
            "/propostas-comerciais",
            "create_proposal",
            "update_proposal",
            "get_proposal",
            "iter_proposals",
            204,
            None,
        ),
        (
            "/contas/pagar",
            "create_payable",
            "update_payable",
            "get_payable",
            "iter_payables",
            200,
            {"id": 12345678},
        ),
    ],
)
def test_other_resources(
    fake: FakeBling,
    tokens: Tokens,
    prefix: str,
    create: str,
    update: str,
    get: str,
    iterate: str,
    update_status: int,
    update_body: dict | None,
) -> None:
    fake.route("POST", prefix, lambda r: httpx.Response(201, json={"data": {"id": 6423817751}}))
    fake.route("PUT", f"{prefix}/6423817751", lambda r: httpx.Response(update_status, json=update_body))
    fake.route(
        "GET", f"{prefix}/6423817751", lambda r: httpx.Response(200, json={"data": {"id": 6423817751}})
    )
    fake.route("GET", prefix, paged([{"id": 6423817751}]))
    client = make_client(fake, tokens)
    assert getattr(client, create)({"x": 1}) == 6423817751
    assert getattr(client, update)(6423817751, {"x": 2}) is None
    assert getattr(client, get)(6423817751) == {"id": 6423817751}
    assert list(getattr(client, iterate)()) == [{"id": 6423817751}]


# --- auth and error mapping ---------------------------------------------------------------------


def test_401_refreshes_once_and_retries(fake: FakeBling, tokens: Tokens) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] != f"Bearer {TOKEN_2}":
            return error(401, "invalid_token", "invalid_token", "The access token provided is invalid")
        return httpx.Response(200, json={"data": contact(1)})

    fake.route("GET", "/contatos/1", handler)
    assert make_client(fake, tokens).get_contact(1)["id"] == 1
    assert tokens.rejected == [TOKEN_1]
    assert [r.headers["Authorization"] for r in fake.requests] == [f"Bearer {TOKEN_1}", f"Bearer {TOKEN_2}"]


def test_second_401_means_authorization_revoked(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/contatos/1", lambda r: error(401, "invalid_token", "invalid_token", f"bad {TOKEN_2}"))
    with pytest.raises(BlingAuthorizationRevoked) as info:
        make_client(fake, tokens).get_contact(1)
    assert tokens.rejected == [TOKEN_1]
    assert "auvo-bling authorize" in info.value.hint
    assert_no_secret(info.value)


def test_revoked_refresh_propagates(fake: FakeBling, tokens: Tokens) -> None:
    def refuse(rejected: str) -> str:
        raise BlingAuthorizationRevoked("refresh token refused")

    tokens.refreshed_after_rejection = refuse  # type: ignore[method-assign]
    fake.route("GET", "/contatos/1", lambda r: error(401, "invalid_token", "invalid_token"))
    with pytest.raises(BlingAuthorizationRevoked, match="refresh token refused"):
        make_client(fake, tokens).get_contact(1)


def test_403_insufficient_scope(fake: FakeBling, tokens: Tokens) -> None:
    fake.route(
        "POST",
        "/contas/pagar",
        lambda r: error(
            403, "insufficient_scope", "insufficient_scope", "The request requires higher privileges"
        ),
    )
    with pytest.raises(BlingScopeMissing) as info:
        make_client(fake, tokens).create_payable({})
    assert info.value.http_status == 403 and info.value.api_error_type == "insufficient_scope"


def test_other_403_is_rejected(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("POST", "/produtos", lambda r: error(403, "FORBIDDEN", "Acesso negado", "Sem permissão"))
    with pytest.raises(ApiRejected):
        make_client(fake, tokens).create_product({})


def test_429_is_rate_limited_with_retry_after(fake: FakeBling, tokens: Tokens) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        response = error(429, "TOO_MANY_REQUESTS", "Limite de requisições atingido", "Aguarde")
        response.headers["Retry-After"] = "2"
        return response

    fake.route("GET", "/contatos", handler)
    with pytest.raises(RateLimited) as info:
        list(make_client(fake, tokens).iter_contacts())
    assert info.value.retry_after == 2.0 and info.value.transient


def test_429_without_retry_after(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/contatos", lambda r: error(429, "TOO_MANY_REQUESTS", "Limite atingido"))
    with pytest.raises(RateLimited) as info:
        list(make_client(fake, tokens).iter_contacts())
    assert info.value.retry_after is None


def test_validation_error_carries_field_errors(fake: FakeBling, tokens: Tokens) -> None:
    fields = [
        {
            "code": 4,
            "msg": "O CNPJ informado é inválido",
            "element": "numeroDocumento",
            "namespace": "CONTATOS",
        },
        {
            "code": 49,
            "msg": "Uma ou mais parcelas da venda possuem erros de validação",
            "element": "parcelas",
            "namespace": "VENDAS",
            "collection": [
                {
                    "index": 1,
                    "code": 12,
                    "msg": "Id da forma de pagamento inválido.",
                    "element": "formaPagamento",
                    "namespace": "VENDAS",
                }
            ],
        },
    ]
    fake.route(
        "POST",
        "/contatos",
        lambda r: error(
            400, "VALIDATION_ERROR", "Não foi possível salvar", "Erros de validação", fields=fields
        ),
    )
    with pytest.raises(ApiRejected) as info:
        make_client(fake, tokens).create_contact({"nome": "x"})
    exc = info.value
    assert exc.http_status == 400 and exc.api_error_type == "VALIDATION_ERROR"
    assert [(f.code, f.element) for f in exc.field_errors] == [
        (4, "numeroDocumento"),
        (49, "parcelas"),
        (12, "parcelas[1].formaPagamento"),
    ]
    assert exc.field_errors[2].collection == "parcelas"
    assert "O CNPJ informado é inválido" in str(exc)
    assert exc.diagnosis()["field_errors"][0]["msg"] == "O CNPJ informado é inválido"


def test_rejection_without_error_body(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("PUT", "/contatos/1", lambda r: httpx.Response(422, text="unprocessable"))
    with pytest.raises(ApiRejected, match="unprocessable"):
        make_client(fake, tokens).update_contact(1, {})


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(fake: FakeBling, tokens: Tokens, status: int) -> None:
    fake.route("GET", "/contatos/1", lambda r: error(status, "SERVER_ERROR", "Erro interno"))
    with pytest.raises(ApiUnavailable) as info:
        make_client(fake, tokens).get_contact(1)
    assert info.value.http_status == status


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("read timed out"), httpx.ConnectError("refused")])
def test_transport_failures_are_unavailable(tokens: Tokens, exc: Exception) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(ApiUnavailable) as info:
        make_client(boom, tokens).get_contact(1)
    assert "GET /Api/v3/contatos/1" in str(info.value)
    assert_no_secret(info.value)


def test_throttle_is_called_before_every_request(fake: FakeBling, tokens: Tokens) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {TOKEN_1}":
            return error(401, "invalid_token", "invalid_token")
        return httpx.Response(204)

    fake.route("PUT", "/contatos/1", handler)
    make_client(fake, tokens, throttle=lambda: calls.append(len(fake.requests))).update_contact(1, {})
    assert calls == [0, 1]


def test_token_echoed_in_error_body_is_redacted(fake: FakeBling, tokens: Tokens) -> None:
    fake.route("GET", "/contatos/1", lambda r: error(400, "BAD_REQUEST", f"token {TOKEN_1} malformed"))
    with pytest.raises(ApiRejected) as info:
        make_client(fake, tokens).get_contact(1)
    assert_no_secret(info.value)
