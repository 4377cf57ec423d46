"""What a Bling user does to a pedido after we wrote it: a new situação, a nota fiscal issued.

Test and demo hooks (the simulator has no UI): `set_order_situation` is what Bling's
`PATCH /pedidos/vendas/{id}/situacoes/{idSituacao}` does, `issue_invoice` what "Gerar nota fiscal"
(`POST /pedidos/vendas/{id}/gerar-nfe`) followed by its authorization does: a nota fiscal
(NotasFiscaisDadosGetDTO's fields, `numeroPedidoLoja` = the pedido's `numeroLoja`), linked from
the pedido's `notaFiscal.id`, the pedido atendido. Each emits the webhooks Bling sends
(`order.updated`, `invoice.created`), and `GET /nfe/{id}` answers the nota.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from simulators.bling.common import not_found
from simulators.bling.resources import bad_param

if TYPE_CHECKING:
    from simulators.bling.state import BlingState

ORDERS = "pedidos/vendas"
INVOICES = "nfe"
SITUACAO_ATENDIDO = 9
NFE_AUTORIZADA = 5


def set_order_situation(state: BlingState, order_id: int, situacao_id: int) -> dict[str, Any]:
    """The pedido's situação changed in Bling (its `order.updated` webhook follows)."""
    return state.update_record(ORDERS, order_id, situacao={"id": situacao_id, "valor": 0})


def issue_invoice(state: BlingState, order_id: int) -> dict[str, Any]:
    """A nota fiscal issued and authorized for the pedido; returns the nota."""
    with state.lock:
        order = state.records[ORDERS][order_id]
        invoice_id = state.new_id()
        now = state.now()
        invoice = {
            "id": invoice_id,
            "tipo": 1,
            "situacao": NFE_AUTORIZADA,
            "numero": f"{len(state.invoices) + 1:06d}",
            "dataEmissao": now.strftime("%Y-%m-%d %H:%M:%S"),
            "dataOperacao": now.strftime("%Y-%m-%d %H:%M:%S"),
            "chaveAcesso": f"{invoice_id:044d}",
            "contato": {"id": order["contato"]["id"], "nome": order["contato"].get("nome", "")},
            "naturezaOperacao": {"id": 1},
            "loja": {"id": order["loja"]["id"]},
            "serie": 1,
            "valorNota": order.get("total", 0.0),
            "numeroPedidoLoja": order.get("numeroLoja", ""),
        }
        state.invoices[invoice_id] = invoice
        state.update_record(
            ORDERS, order_id, notaFiscal={"id": invoice_id}, situacao={"id": SITUACAO_ATENDIDO, "valor": 0}
        )
        state._notify(INVOICES, "created", invoice)
        return dict(invoice)


async def get_invoice(state: BlingState, request: Request) -> Response:
    """`GET /nfe/{idNotaFiscal}`."""
    raw = str(request.path_params["id"])
    if not raw.isdigit():
        raise bad_param("idNotaFiscal", raw)
    with state.lock:
        invoice = state.invoices.get(int(raw))
        if invoice is None:
            raise not_found(f"a nota fiscal {raw}")
        return JSONResponse({"data": dict(invoice)})
