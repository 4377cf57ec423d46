"""Bling OAuth calls against an in-process token endpoint."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.bling.oauth import (
    REQUIRED_SCOPE_GROUPS,
    TokenSet,
    authorize_url,
    exchange_code,
    missing_scopes,
    refresh_tokens,
)
from infra.errors import (
    ApiRejected,
    ApiUnavailable,
    BlingAuthorizationRevoked,
    IntegrationError,
    PermanentError,
    RateLimited,
)

BASE = "https://api.bling.com.br/Api/v3"
CLIENT_ID = "9d27f936949e358872962c8a561d561cd0ea6f69"
CLIENT_SECRET = "s3cr3t-client-secret-value-0123456789"
CODE = "auth-code-4f1a9e"
REFRESH = "refresh-token-77c1d0"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TOKEN_ANSWER = {
    "access_token": "access-token-new-123",
    "expires_in": 21600,
    "token_type": "Bearer",
    "scope": "98309 5862218180 106168710",
    "refresh_token": "refresh-token-new-456",
}


def transport(
    status: int, body: Any, seen: list[httpx.Request], headers: dict | None = None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handler)


def bling_error(type_: str, description: str = "") -> dict:
    return {"error": {"type": type_, "message": type_, "description": description}}


def assert_no_secret(exc: BaseException) -> None:
    text = str(exc)
    if isinstance(exc, IntegrationError):
        text += json.dumps(exc.diagnosis())
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    for secret in (CLIENT_SECRET, CODE, REFRESH, basic):
        assert secret not in text


def exchange(status: int, body: Any, seen: list[httpx.Request], **kwargs: Any) -> TokenSet:
    return exchange_code(
        BASE,
        CLIENT_ID,
        CLIENT_SECRET,
        CODE,
        transport=transport(status, body, seen, **kwargs),
        now=lambda: NOW,
    )


def refresh(status: int, body: Any, seen: list[httpx.Request], **kwargs: Any) -> TokenSet:
    return refresh_tokens(
        BASE,
        CLIENT_ID,
        CLIENT_SECRET,
        REFRESH,
        transport=transport(status, body, seen, **kwargs),
        now=lambda: NOW,
    )


def test_authorize_url() -> None:
    url = authorize_url("https://www.bling.com.br/Api/v3/", CLIENT_ID, "state-xyz")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.bling.com.br/Api/v3/oauth/authorize"
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "state": ["state-xyz"],
    }
    with_redirect = authorize_url(BASE, CLIENT_ID, "s", redirect_uri="https://ops.example/cb?x=1")
    assert parse_qs(urlsplit(with_redirect).query)["redirect_uri"] == ["https://ops.example/cb?x=1"]


def test_exchange_code() -> None:
    seen: list[httpx.Request] = []
    tokens = exchange(200, TOKEN_ANSWER, seen)
    request = seen[0]
    assert request.method == "POST" and str(request.url) == f"{BASE}/oauth/token"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    scheme, _, value = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic" and base64.b64decode(value).decode() == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert parse_qs(request.content.decode()) == {"grant_type": ["authorization_code"], "code": [CODE]}
    assert tokens.access_token == "access-token-new-123"
    assert tokens.refresh_token == "refresh-token-new-456"
    assert tokens.expires_at == NOW + timedelta(hours=6)
    assert tokens.scope == ["98309", "5862218180", "106168710"]
    assert tokens.token_type == "Bearer"
    assert "access-token-new-123" not in repr(tokens) and "refresh-token-new-456" not in repr(tokens)


def test_refresh_tokens_rotates() -> None:
    seen: list[httpx.Request] = []
    tokens = refresh(200, TOKEN_ANSWER, seen)
    assert parse_qs(seen[0].content.decode()) == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH]}
    assert tokens.refresh_token == "refresh-token-new-456"


def test_refresh_without_new_refresh_token_keeps_the_old_one() -> None:
    answer = {k: v for k, v in TOKEN_ANSWER.items() if k != "refresh_token"}
    assert refresh(200, answer, []).refresh_token == REFRESH


def test_accepts_an_http_client() -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(base_url=BASE, transport=transport(200, TOKEN_ANSWER, seen)) as client:
        tokens = refresh_tokens(client, CLIENT_ID, CLIENT_SECRET, REFRESH)
    assert str(seen[0].url) == f"{BASE}/oauth/token"
    assert tokens.expires_at > datetime.now(UTC)


def test_expires_within() -> None:
    tokens = exchange(200, TOKEN_ANSWER, [])
    assert not tokens.expires_within(300, now=NOW)
    assert tokens.expires_within(300, now=NOW + timedelta(hours=5, minutes=56))


def test_invalid_grant_on_refresh_is_revoked() -> None:
    with pytest.raises(BlingAuthorizationRevoked) as info:
        refresh(400, bling_error("invalid_grant", "Invalid refresh token"), [])
    assert "auvo-bling authorize" in str(info.value) and "auvo-bling authorize" in info.value.hint
    assert_no_secret(info.value)


def test_invalid_grant_on_code() -> None:
    with pytest.raises(ApiRejected, match="authorization code invalid or already used") as info:
        exchange(400, {"error": "invalid_grant", "error_description": f"code {CODE} expired"}, [])
    assert_no_secret(info.value)


def test_invalid_client_names_the_settings_not_the_secret() -> None:
    with pytest.raises(PermanentError) as info:
        exchange(401, bling_error("invalid_client", f"client secret {CLIENT_SECRET} is wrong"), [])
    error = info.value
    assert CLIENT_ID in str(error)
    assert "client_id" in error.hint and "client_secret" in error.hint
    assert error.api_error_type == "invalid_client"
    assert_no_secret(error)


@pytest.mark.parametrize(
    ("status", "body", "retry_after"),
    [
        (429, bling_error("TOO_MANY_REQUESTS", "Limite de requisições atingido"), None),
        (403, bling_error("FORBIDDEN", "IP bloqueado por excesso de requisições"), 3600.0),
    ],
)
def test_rate_limited_and_blocked(status: int, body: dict, retry_after: float | None) -> None:
    with pytest.raises(RateLimited) as info:
        refresh(status, body, [])
    assert info.value.retry_after == retry_after


def test_retry_after_header_is_honoured() -> None:
    with pytest.raises(RateLimited) as info:
        refresh(429, bling_error("TOO_MANY_REQUESTS"), [], headers={"Retry-After": "60"})
    assert info.value.retry_after == 60.0


def test_5xx_and_timeouts_are_unavailable() -> None:
    with pytest.raises(ApiUnavailable):
        refresh(503, bling_error("SERVER_ERROR"), [])

    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(ApiUnavailable) as info:
        refresh_tokens(BASE, CLIENT_ID, CLIENT_SECRET, REFRESH, transport=httpx.MockTransport(boom))
    assert_no_secret(info.value)


def test_answer_without_access_token_is_unavailable() -> None:
    with pytest.raises(ApiUnavailable):
        exchange(200, {"unexpected": True}, [])


def test_other_4xx_is_rejected() -> None:
    with pytest.raises(ApiRejected) as info:
        exchange(400, {"error": "unsupported_grant_type"}, [])
    assert_no_secret(info.value)


# --- scopes -------------------------------------------------------------------------------------


def test_required_scope_groups_are_the_guides_five() -> None:
    assert list(REQUIRED_SCOPE_GROUPS) == [
        "Clientes e Fornecedores",
        "Contas a Pagar",
        "Pedidos de Venda",
        "Produtos",
        "Propostas Comerciais",
    ]


@pytest.mark.parametrize(
    "granted",
    [
        ["Clientes e Fornecedores", "Contas a Pagar", "Pedidos de Venda", "Produtos", "Propostas Comerciais"],
        ["contatos", "contas-a-pagar", "pedidos.vendas", "produtos:write", "propostas_comerciais"],
        ["clientes-e-fornecedores", "contas/pagar", "pedidos-de-venda", "PRODUTOS", "Propostas comerciais"],
        "Clientes e Fornecedores Contas a Pagar Pedidos de Venda Produtos Propostas Comerciais",
    ],
)
def test_missing_scopes_is_lenient_on_spelling(granted: list[str] | str) -> None:
    assert missing_scopes(granted) == []


def test_missing_scopes_reports_guide_names() -> None:
    assert missing_scopes(["contatos", "produtos", "contas a receber"]) == [
        "Contas a Pagar",
        "Pedidos de Venda",
        "Propostas Comerciais",
    ]
    assert missing_scopes([]) == list(REQUIRED_SCOPE_GROUPS)


def test_opaque_numeric_scopes_cannot_be_judged() -> None:
    assert missing_scopes(["98309", "5862218180", "106168710"]) == []
