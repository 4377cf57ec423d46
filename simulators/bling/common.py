"""The Bling simulator's constants, its error answers and its OAuth bookkeeping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

BASE = "/Api/v3"
DATETIME_FMT = "%Y-%m-%d %H:%M:%S"
MAX_LIMIT = 100
FIRST_ID = 16_000_000_001
INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token"

SCOPE_BY_RESOURCE: dict[str, str] = {
    "contatos": "contatos",
    "produtos": "produtos",
    "pedidos/vendas": "vendas",
    "propostas-comerciais": "propostas",
    "contas/pagar": "contas_pagar",
}
ALL_SCOPES: tuple[str, ...] = tuple(SCOPE_BY_RESOURCE.values())

# Resources Bling sends webhooks for (its webhooks cover orders and products, not contacts).
WEBHOOK_RESOURCES: dict[str, str] = {"pedidos/vendas": "order", "produtos": "product", "nfe": "invoice"}

Handler = Callable[[Request], Awaitable[Response]]
Predicate = Callable[[dict[str, Any]], bool]


# --- errors ---------------------------------------------------------------------------------------


class BlingError(Exception):
    """Any non-2xx answer in Bling's envelope: `{"error": {"type", "message", "description"[, "fields"]}}`."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        description: str,
        fields: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {type_}: {description}")
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type_, "message": message, "description": description}}
        if fields is not None:
            self.body["error"]["fields"] = fields

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def oauth_error(status: int, kind: str, description: str) -> BlingError:
    return BlingError(status, kind, kind, description)


def not_found(what: str) -> BlingError:
    return BlingError(404, "RESOURCE_NOT_FOUND", "Recurso não encontrado",
                      f"O recurso requisitado não foi encontrado: {what}")


def validation_error(what: str, fields: list[dict[str, Any]]) -> BlingError:
    return BlingError(400, "VALIDATION_ERROR", f"Não foi possível salvar {what}",
                      f"Não foi possível salvar {what}, pois ocorreram problemas em sua validação.", fields)


# --- OAuth bookkeeping ----------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Grant:
    """What a code, access token or refresh token stands for."""

    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
