"""Pure translation of Auvo tasks and quotations into Bling pedidos de venda and propostas comerciais.

Both sources go through one neutral shape, `SaleDocument` (lines, additional costs, discount, date,
observations, the marker that finds the Bling record again), so the task flow and the quote flow
write the same kind of body and the no-duplication policy can hand one job's document from one flow
to the other. Nothing here does I/O; the handlers resolve Bling ids first and pass them in.

Choices, because Bling and Auvo model money differently:
- A line's Auvo discount (money or percentage) becomes Bling's item `desconto`, which is a
  percentage of quantity x unit value.
- The task's `summary.discount` (the quotation's `summary.discount`, else `descount`) is the
  document's discount: `desconto` {valor, unidade REAL|PERCENTUAL} on a pedido, money on a proposta.
- Additional costs are summed into `outrasDespesas` and listed in the internal observations.
- `parcelas` is sent empty: Bling generates the installments from its own payment settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from contracts.events import AuvoDiscount, AuvoQuote, AuvoTask
from infra.auvo.wire import auvo_number

LineKind = Literal["product", "service"]

TASK_MARKER_PREFIX = "AUVO-TASK-"
QUOTE_MARKER_PREFIX = "AUVO-ORC-"
PRODUCT_CODE_PREFIX = "AUVO-P-"
SERVICE_CODE_PREFIX = "AUVO-S-"
NAME_MAX = 120  # ProdutosDadosBaseDTO.nome maxLength

# Bling's default situações de venda that close a pedido to edits: 9 Atendido, 12 Cancelado.
CLOSED_ORDER_SITUATIONS = frozenset({9, 12})

CENT = Decimal("0.01")


def task_marker(task_id: int | str) -> str:
    """`numeroLoja` of the pedido of an Auvo job keyed by its task (listable by `numerosLojas[]`)."""
    return f"{TASK_MARKER_PREFIX}{task_id}"


def quote_marker(quote_id: int | str) -> str:
    """`numeroLoja` of a pedido / marker in a proposta's internal note, for a quotation."""
    return f"{QUOTE_MARKER_PREFIX}{quote_id}"


def product_code(kind: LineKind, auvo_id: str) -> str:
    """The Bling produto `codigo` of an Auvo product or service: finds it again without the id map."""
    return f"{PRODUCT_CODE_PREFIX if kind == 'product' else SERVICE_CODE_PREFIX}{auvo_id}"


@dataclass(frozen=True)
class SaleLine:
    """One product or service sold, in neutral terms."""

    kind: LineKind
    auvo_id: str
    name: str
    quantity: Decimal
    unit_value: Decimal
    discount_percent: Decimal = Decimal(0)
    sku: str = ""  # the Auvo product's own `code` (the company's SKU), matched against Bling's codigo

    @property
    def code(self) -> str:
        """Our marker codigo: what a produto we create is coded, so it is found again without the id map."""
        return product_code(self.kind, self.auvo_id)


@dataclass(frozen=True)
class SaleDocument:
    """What a pedido or proposta says about one Auvo job, before Bling ids are known."""

    marker: str
    date: str  # YYYY-MM-DD
    lines: list[SaleLine]
    additional_costs: Decimal = Decimal(0)
    cost_notes: list[str] = field(default_factory=list)
    discount: Decimal = Decimal(0)
    discount_is_percent: bool = False
    observations: str = ""
    internal_note: str = ""

    @property
    def gross_total(self) -> Decimal:
        return sum(
            (line.quantity * line.unit_value * (1 - line.discount_percent / 100) for line in self.lines),
            Decimal(0),
        )


# --- Auvo -> neutral --------------------------------------------------------------------------


def is_percent(discount: AuvoDiscount | None) -> bool:
    kind = (discount.type or "").lower() if discount else ""
    return kind.startswith(("percent", "porcent")) or kind == "%"


def line_discount_percent(quantity: Decimal, unit_value: Decimal, discount: AuvoDiscount | None) -> Decimal:
    """Auvo's line discount (money or percentage) as the percentage Bling's item `desconto` holds."""
    value = auvo_number(discount.value) if discount else Decimal(0)
    if value <= 0:
        return Decimal(0)
    if is_percent(discount):
        return min(value, Decimal(100))
    gross = quantity * unit_value
    if gross <= 0:
        return Decimal(0)
    return min(value / gross * 100, Decimal(100)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def _name(*candidates: str | None, fallback: str) -> str:
    for candidate in candidates:
        text = " ".join((candidate or "").split())
        if text:
            return text[:NAME_MAX]
    return fallback[:NAME_MAX]


def _date(stamp: str | None) -> str:
    return (stamp or "")[:10]


def lines_from_task(task: AuvoTask) -> list[SaleLine]:
    """Products then services of the task, each with quantity > 0 (a line of 0 units sells nothing)."""
    lines: list[SaleLine] = []
    for p in task.products:
        quantity, unit = auvo_number(p.quantity), auvo_number(p.unitaryValue)
        if quantity <= 0 or not p.productId:
            continue
        name = _name(p.name, p.description, fallback=f"Produto Auvo {p.code or p.productId}")
        lines.append(
            SaleLine(
                "product",
                p.productId,
                name,
                quantity,
                unit,
                line_discount_percent(quantity, unit, p.discount),
                sku=str(p.code or "").strip(),
            )
        )
    for s in task.services:
        quantity, unit = auvo_number(s.quantity), auvo_number(s.unitaryValue)
        if quantity <= 0 or not s.id:
            continue
        name = _name(s.name, fallback=f"Serviço Auvo {s.id}")
        lines.append(
            SaleLine("service", s.id, name, quantity, unit, line_discount_percent(quantity, unit, s.discount))
        )
    return lines


def document_from_task(task: AuvoTask) -> SaleDocument:
    """The pedido de venda of a task: its items, costs, discount, date and a way back to Auvo."""
    costs = [(c.name or "Custo adicional", auvo_number(c.unitaryValue)) for c in task.additionalCosts]
    discount = task.summary.discount if task.summary else None
    title = f"Tarefa Auvo nº {task.taskID}"
    if task.taskTypeDescription:
        title += f" - {task.taskTypeDescription.strip()}"
    parts = [title]
    if task.orientation and task.orientation.strip():
        parts.append(task.orientation.strip())
    if task.taskUrl:
        parts.append(f"Tarefa no Auvo: {task.taskUrl}")
    return SaleDocument(
        marker=task_marker(task.taskID),
        date=_date(task.taskDate) or _date(task.creationDate),
        lines=lines_from_task(task),
        additional_costs=sum((v for _, v in costs), Decimal(0)),
        cost_notes=[f"{n}: {_money(v)}" for n, v in costs if v],
        discount=auvo_number(discount.value) if discount else Decimal(0),
        discount_is_percent=is_percent(discount),
        observations="\n".join(parts),
        internal_note=f"auvo-task:{task.taskID}",
    )


def document_from_quote(
    quote: AuvoQuote, catalogue: Mapping[str, Mapping[str, Any]], *, marker: str | None = None
) -> SaleDocument:
    """The proposta (or pedido) of a quotation.

    A quotation line names its product only by `productId`; `catalogue` maps that value to the Auvo
    product record (from `GET /products/{id}`), whose GUID `productId` and `name` the line takes.
    `marker` overrides the quotation's own marker when the job's pedido is keyed by its task.
    """
    lines: list[SaleLine] = []
    for item in quote.products:
        quantity, unit = auvo_number(item.amout), auvo_number(item.UnitaryValue)
        if quantity <= 0:
            continue
        product = catalogue.get(str(item.productId)) or {}
        auvo_id = str(product.get("productId") or item.productId)
        name = _name(product.get("name"), fallback=f"Produto Auvo {item.productId}")
        lines.append(
            SaleLine("product", auvo_id, name, quantity, unit, sku=str(product.get("code") or "").strip())
        )
    costs = [(c.description or "Custo adicional", auvo_number(c.value)) for c in quote.aditionalCosts]
    summary_discount = quote.summary.discount if quote.summary else None
    if summary_discount is not None and auvo_number(summary_discount.value) > 0:
        discount, percent = auvo_number(summary_discount.value), is_percent(summary_discount)
    else:
        discount, percent = auvo_number(quote.descount), False
    parts = [f"Orçamento Auvo nº {quote.publicId}"]
    if quote.taskID:
        parts[0] += f" (tarefa Auvo nº {quote.taskID})"
    if quote.observations and quote.observations.strip():
        parts.append(quote.observations.strip())
    return SaleDocument(
        marker=marker or quote_marker(quote.publicId),
        date=_date(quote.requestDate) or _date(quote.registerDate),
        lines=lines,
        additional_costs=sum((v for _, v in costs), Decimal(0)),
        cost_notes=[f"{n}: {_money(v)}" for n, v in costs if v],
        discount=discount,
        discount_is_percent=percent,
        observations="\n".join(parts),
        internal_note=f"auvo-quotation:{quote.publicId}",
    )


# --- neutral -> Bling -------------------------------------------------------------------------


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, ROUND_HALF_UP))


def _number(value: Decimal) -> float:
    return float(value.normalize()) if value == value.to_integral() else float(value)


def _internal(doc: SaleDocument) -> str:
    lines = [f"{doc.internal_note} ({doc.marker})"]
    if doc.cost_notes:
        lines.append("Custos adicionais: " + "; ".join(doc.cost_notes))
    return "\n".join(lines)


def product_body(line: SaleLine) -> dict[str, Any]:
    """`POST /produtos` for an Auvo product (tipo P) or service (tipo S) first sold through Bling."""
    kind = "produto" if line.kind == "product" else "serviço"
    body: dict[str, Any] = {
        "nome": line.name,
        "codigo": line.code,
        "preco": _money(line.unit_value),
        "tipo": "P" if line.kind == "product" else "S",
        "situacao": "A",
        "formato": "S",
        "observacoes": f"Criado pela integração Auvo <> Bling a partir do {kind} Auvo {line.auvo_id}",
    }
    if line.kind == "product":
        body["unidade"] = "UN"
    return body


@dataclass(frozen=True)
class ProductRef:
    """The Bling produto a line sells: its id, and the codigo a pedido's item shows (the company's
    SKU for a produto of its catalogue, our marker for one we created)."""

    id: int
    codigo: str


ProductIds = Mapping[tuple[LineKind, str], ProductRef]  # (kind, auvo id) -> Bling produto


def sales_order_body(doc: SaleDocument, *, contact_id: int, product_ids: ProductIds) -> dict[str, Any]:
    """`POST /pedidos/vendas` and `PUT /pedidos/vendas/{id}` (VendasDadosBaseDTO + VendasDadosDTO).

    `situacao` is left out (read-only on PUT; Bling opens a new pedido "Em aberto"), `parcelas` is
    empty (Bling's payment settings generate them), and `numeroLoja` holds the marker.
    """
    items = []
    for line in doc.lines:
        ref = product_ids[(line.kind, line.auvo_id)]
        items.append(
            {
                "codigo": ref.codigo,
                "unidade": "UN",
                "quantidade": _number(line.quantity),
                "valor": _money(line.unit_value),
                "valorLista": _money(line.unit_value),
                "desconto": _number(line.discount_percent),
                "descricao": line.name,
                "produto": {"id": int(ref.id)},
            }
        )
    return {
        "numeroLoja": doc.marker,
        "data": doc.date,
        "dataSaida": doc.date,
        "dataPrevista": doc.date,
        "contato": {"id": int(contact_id)},
        "itens": items,
        "parcelas": [],
        "outrasDespesas": _money(doc.additional_costs),
        "desconto": {
            "valor": _number(doc.discount) if doc.discount_is_percent else _money(doc.discount),
            "unidade": "PERCENTUAL" if doc.discount_is_percent else "REAL",
        },
        "observacoes": doc.observations,
        "observacoesInternas": _internal(doc),
    }


def proposal_body(doc: SaleDocument, *, contact_id: int, product_ids: ProductIds) -> dict[str, Any]:
    """`POST/PUT /propostas-comerciais` (OrcamentosDadosBaseDTO + OrcamentosDadosDTO).

    The proposta's `desconto` is money, so a percentage discount is applied to the items' total.
    """
    items = []
    for line in doc.lines:
        ref = product_ids[(line.kind, line.auvo_id)]
        items.append(
            {
                "produto": {"id": int(ref.id), "descricao": line.name},
                "codigo": ref.codigo,
                "unidade": "UN",
                "quantidade": _number(line.quantity),
                "desconto": _number(line.discount_percent),
                "valor": _money(line.unit_value),
            }
        )
    discount = doc.gross_total * doc.discount / 100 if doc.discount_is_percent else doc.discount
    return {
        "data": doc.date,
        "contato": {"id": int(contact_id)},
        "desconto": _money(discount),
        "outrasDespesas": _money(doc.additional_costs),
        "observacoes": doc.observations,
        "observacaoInterna": _internal(doc),
        "itens": items,
        "parcelas": [],
    }


def body_fingerprint(body: Mapping[str, Any]) -> str:
    """What we last wrote, to skip a write that would change nothing."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def order_closed(order: Mapping[str, Any]) -> bool:
    """A pedido Bling no longer lets us edit: atendido, cancelado, or with a nota fiscal issued."""
    situacao = order.get("situacao") or {}
    nota = order.get("notaFiscal") or {}
    return (isinstance(situacao, dict) and situacao.get("id") in CLOSED_ORDER_SITUATIONS) or bool(
        isinstance(nota, dict) and nota.get("id")
    )
