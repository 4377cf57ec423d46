"""Bling OAuth 2 (authorization code) HTTP calls; storing and locking tokens is the caller's job.

Kept apart from the API client because the token endpoint has its own rules: client credentials in a
Basic header, form-encoded bodies, single-use codes, rotating refresh tokens and an IP block after
more than 20 token calls a minute. Every failure becomes a typed error whose text names the setting
to fix and never carries the client secret, a code or a token.
"""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from infra import http
from infra.errors import ApiRejected, ApiUnavailable, BlingAuthorizationRevoked, RateLimited

SERVICE = "Bling OAuth"
DEFAULT_EXPIRES_IN_S = 21600
# a lifetime past this is a clock or a shape we do not believe (Bling's tokens last 6 h); nan fails it too
MAX_BELIEVED_EXPIRES_IN_S = 30 * 24 * 3600.0
# After more than 20 token calls in 60 s Bling blocks the IP for 60 minutes.
IP_BLOCK_S = 3600.0
CLIENT_SETTINGS_HINT = (
    "Bling refused the app credentials: check the bling.client_id / bling.client_secret settings "
    "(AUVO_BLING_BLING__CLIENT_ID / AUVO_BLING_BLING__CLIENT_SECRET) against the app's 'Informações do app'"
)
REAUTHORIZE_HINT = "run `auvo-bling authorize` again to obtain a new authorization code"

# The five scope groups the activation guide asks to tick ("... e seus subitens"), each with the
# spellings we accept for it once normalized (accents, case, punctuation and 'e/a/de' dropped).
REQUIRED_SCOPE_GROUPS: dict[str, tuple[str, ...]] = {
    "Clientes e Fornecedores": ("clientes fornecedores", "contatos", "contato", "clientes", "fornecedores"),
    "Contas a Pagar": ("contas pagar", "conta pagar"),
    "Pedidos de Venda": (
        "pedidos venda",
        "pedidos vendas",
        "pedido venda",
        "pedido vendas",
        "vendas",
        "venda",
    ),
    "Produtos": ("produtos", "produto"),
    "Propostas Comerciais": (
        "propostas comerciais",
        "proposta comercial",
        "propostas",
        "proposta",
        "orcamentos",
        "orcamento",
    ),
}
_STOPWORDS = frozenset({"e", "a", "de", "da", "do", "das", "dos"})


@dataclass(frozen=True)
class TokenSet:
    """One answer of the token endpoint; tokens are kept out of repr so they never reach a log."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scope: list[str] = field(default_factory=list)
    token_type: str = "Bearer"
    # `expires_in` as issued: the refresh margin is a share of it (infra/bling/refresh_timing.py)
    lifetime_seconds: float | None = None

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        """True when the access token is (nearly) expired, so callers refresh before using it."""
        return (now or datetime.now(UTC)) >= self.expires_at - timedelta(seconds=seconds)


def authorize_url(authorize_base: str, client_id: str, state: str, redirect_uri: str | None = None) -> str:
    """The page the operator opens to grant access (`{base}/oauth/authorize?response_type=code...`)."""
    params = {"response_type": "code", "client_id": client_id, "state": state}
    if redirect_uri:
        params["redirect_uri"] = redirect_uri
    return f"{authorize_base.rstrip('/')}/oauth/authorize?{urlencode(params)}"


def exchange_code(
    http_client_or_base_url: httpx.Client | str,
    client_id: str,
    client_secret: str,
    code: str,
    *,
    redirect_uri: str | None = None,
    throttle: http.Throttle | None = None,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
) -> TokenSet:
    """Trades a single-use authorization code for the first token set."""
    form = {"grant_type": "authorization_code", "code": code}
    if redirect_uri:
        form["redirect_uri"] = redirect_uri
    call = _TokenCall(client_id, client_secret, secrets=[code], grant="authorization_code")
    body = call.post(http_client_or_base_url, form, throttle=throttle, timeout=timeout, transport=transport)
    return _token_set(body, fallback_refresh="", now=now)


def refresh_tokens(
    http_client_or_base_url: httpx.Client | str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    *,
    throttle: http.Throttle | None = None,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
) -> TokenSet:
    """Trades a refresh token for a new set; the old refresh token stops working (rotation)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    call = _TokenCall(client_id, client_secret, secrets=[refresh_token], grant="refresh_token")
    body = call.post(http_client_or_base_url, form, throttle=throttle, timeout=timeout, transport=transport)
    return _token_set(body, fallback_refresh=refresh_token, now=now)


def missing_scopes(granted: Iterable[str] | str) -> list[str]:
    """The required scope groups (guide names) that `granted` does not cover.

    Lenient on spelling: "Clientes e Fornecedores", "clientes-e-fornecedores", "contatos",
    "contatos:write" all count for the first group. Bling may instead report opaque numeric scope ids;
    those cannot be judged here, so a grant made only of numbers yields [] and the first call lacking a
    scope surfaces as BlingScopeMissing instead.
    """
    entries = [granted] if isinstance(granted, str) else [str(g) for g in granted]
    entries = [e for e in (x.strip() for x in entries) if e]
    if entries and all(re.fullmatch(r"[\d\s,;]+", e) for e in entries):
        return []
    haystacks = [_normalize(e) for e in entries] + [_normalize(" ".join(entries))]
    return [
        group
        for group, aliases in REQUIRED_SCOPE_GROUPS.items()
        if not any(f" {alias} " in f" {hay} " for alias in aliases for hay in haystacks)
    ]


# --- internals ------------------------------------------------------------------------------------


def _normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    words = [w for w in re.split(r"[^a-z0-9]+", plain) if w and w not in _STOPWORDS]
    return " ".join(words)


@dataclass
class _TokenCall:
    """One POST to `/oauth/token` with the client's Basic credentials, and its error mapping."""

    client_id: str
    client_secret: str = field(repr=False)
    secrets: list[str] = field(repr=False, default_factory=list)
    grant: str = "authorization_code"

    def post(
        self,
        target: httpx.Client | str,
        form: dict[str, str],
        *,
        throttle: http.Throttle | None,
        timeout: float,
        transport: httpx.BaseTransport | None,
    ) -> dict[str, Any]:
        """`target` is a base URL (a short-lived client is built) or a client whose base_url is set."""
        if isinstance(target, httpx.Client):
            return self._body_or_raise(self._send(target, form, throttle))
        with http.build_client(target, timeout=timeout, transport=transport) as client:
            return self._body_or_raise(self._send(client, form, throttle))

    def _send(
        self, client: httpx.Client, form: dict[str, str], throttle: http.Throttle | None
    ) -> httpx.Response:
        request = client.build_request("POST", "oauth/token", data=form, headers=self._headers())
        return http.send(client, request, service=SERVICE, throttle=throttle, secrets=self._all_secrets())

    def _basic(self) -> str:
        return base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode("ascii")

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": "Basic " + self._basic(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }

    def _all_secrets(self) -> list[str | None]:
        return [self.client_secret, self._basic(), *self.secrets]

    def _body_or_raise(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 500:
            raise http.server_error(response, service=SERVICE, secrets=self._all_secrets())
        body = http.json_body(response)
        if response.status_code >= 400:
            raise self._failure(response, body)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise ApiUnavailable(
                f"Bling token endpoint answered {response.status_code} without an access_token",
                http_status=response.status_code,
            )
        return body

    def _failure(self, response: httpx.Response, body: Any) -> Exception:
        status = response.status_code
        error_type, summary = _oauth_error(body)
        summary = http.redact(summary or http.body_excerpt(response), self._all_secrets())
        kwargs: dict[str, Any] = {"http_status": status, "api_error_type": error_type or None}
        lowered = f"{error_type} {summary}".lower()
        if status == 429 or "too_many" in lowered or "block" in lowered or "bloque" in lowered:
            retry_after = http.retry_after_seconds(response)
            if retry_after is None and status != 429:
                retry_after = IP_BLOCK_S
            return RateLimited(f"Bling token endpoint refused: {summary}", retry_after=retry_after, **kwargs)
        if "invalid_client" in lowered:
            return ApiRejected(
                f"Bling refused client id {self.client_id!r} or its secret ({summary})",
                hint=CLIENT_SETTINGS_HINT,
                **kwargs,
            )
        if "invalid_grant" in lowered and self.grant == "refresh_token":
            return BlingAuthorizationRevoked(
                f"Bling refused the refresh token ({summary}); re-authorize with `auvo-bling authorize`",
                **kwargs,
            )
        if "invalid_grant" in lowered:
            return ApiRejected(
                f"authorization code invalid or already used ({summary})", hint=REAUTHORIZE_HINT, **kwargs
            )
        return ApiRejected(f"Bling token endpoint answered {status}: {summary}", **kwargs)


def _oauth_error(body: Any) -> tuple[str, str]:
    """(type, human text) from Bling's `{"error": {...}}` or RFC 6749's `{"error", "error_description"}`."""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    if isinstance(error, dict):
        error_type = str(error.get("type") or "")
        text = " - ".join(str(error[k]) for k in ("type", "message", "description") if error.get(k))
        return error_type, text
    if isinstance(error, str):
        description = body.get("error_description") or ""
        return error, f"{error} - {description}" if description else error
    return "", ""


def _split_scope(value: Any) -> list[str]:
    """Scope as sent: a list, or one string separated by spaces (RFC 6749) or commas."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    if not isinstance(value, str):
        return []
    separator = "," if "," in value else None
    return [part.strip() for part in value.split(separator) if part.strip()]


def _token_set(
    body: dict[str, Any], *, fallback_refresh: str, now: Callable[[], datetime] | None
) -> TokenSet:
    try:
        expires_in = float(body.get("expires_in") or DEFAULT_EXPIRES_IN_S)
    except (TypeError, ValueError):
        expires_in = DEFAULT_EXPIRES_IN_S
    if not 0 < expires_in <= MAX_BELIEVED_EXPIRES_IN_S:  # nan, inf, 1e20 (no datetime), or no lifetime
        expires_in = DEFAULT_EXPIRES_IN_S
    issued = now() if now is not None else datetime.now(UTC)
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or fallback_refresh),
        expires_at=issued.astimezone(UTC) + timedelta(seconds=expires_in),
        scope=_split_scope(body.get("scope")),
        token_type=str(body.get("token_type") or "Bearer"),
        lifetime_seconds=expires_in,
    )
