"""Per-resource description of the Bling simulator: answers, query filters, the checks of a write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from simulators.bling.common import DATETIME_FMT, BlingError, Predicate
from simulators.bling.records import (
    check_contact,
    check_contact_ref,
    contact_template,
    derive_contact,
    derive_payable,
    derive_product,
    derive_proposal,
    derive_sale,
    payable_template,
    product_template,
    proposal_template,
    sale_template,
)
from simulators.tax_ids import only_digits

if TYPE_CHECKING:
    from simulators.bling.state import BlingState


# --- per-resource description ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceSpec:
    """How one Bling resource is stored, filtered, validated and answered."""

    name: str
    path: str
    id_param: str
    what: str  # for error messages ("o contato")
    namespace: str
    template: Callable[[BlingState], dict[str, Any]]
    derive: Callable[[BlingState, dict[str, Any]], None]
    check: Callable[[BlingState, dict[str, Any]], list[dict[str, Any]]]
    filters: Callable[[Request], list[Predicate]]
    put_status: int
    post_answer: Callable[[int], dict[str, Any]]
    put_answer: Callable[[int], dict[str, Any]]


def _data_id(record_id: int) -> dict[str, Any]:
    return {"data": {"id": record_id}}


def _product_answer(record_id: int) -> dict[str, Any]:
    return {"data": {"id": record_id, "warnings": []}}


def _sale_answer(record_id: int) -> dict[str, Any]:
    return {"data": {"id": record_id, "alertas": []}}


# --- query filters --------------------------------------------------------------------------------


def _param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value not in (None, "") else None


def _int_list(request: Request, name: str) -> list[int] | None:
    raw = request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)
    if not raw:
        return None
    try:
        return [int(v) for v in raw]
    except ValueError as exc:
        raise bad_param(name, raw) from exc


def bad_param(name: str, value: Any) -> BlingError:
    return BlingError(400, "VALIDATION_ERROR", "Parâmetro inválido", f"O parâmetro {name} é inválido",
                      [{"code": 4, "msg": f"Valor inválido: {value}", "element": name,
                        "namespace": "QUERY", "collection": []}])


def _parse_when(name: str, value: str, end_of_day: bool) -> datetime:
    text = value.strip()
    try:
        return datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        pass
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError as exc:
        raise bad_param(name, value) from exc
    return day.replace(hour=23, minute=59, second=59) if end_of_day else day


def _range(
    request: Request, initial: str, final: str, get: Callable[[dict[str, Any]], datetime]
) -> list[Predicate]:
    """Inclusive [initial, final] on a Brasília-local timestamp or date of the record."""
    preds: list[Predicate] = []
    low, high = _param(request, initial), _param(request, final)
    if low:
        start = _parse_when(initial, low, end_of_day=False)
        preds.append(lambda r: get(r) >= start)
    if high:
        end = _parse_when(final, high, end_of_day=True)
        preds.append(lambda r: get(r) <= end)
    return preds


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.strptime(str(value)[:10], "%Y-%m-%d")
    except ValueError:
        return datetime.min


def _changed(r: dict[str, Any]) -> datetime:
    return r["_dataAlteracao"]


def _included(r: dict[str, Any]) -> datetime:
    return r["_dataInclusao"]


def _field_date(field: str) -> Callable[[dict[str, Any]], datetime]:
    return lambda r: _as_datetime(r.get(field))


def _common_ranges(request: Request) -> list[Predicate]:
    return (_range(request, "dataAlteracaoInicial", "dataAlteracaoFinal", _changed)
            + _range(request, "dataInclusaoInicial", "dataInclusaoFinal", _included))


def contact_filters(request: Request) -> list[Predicate]:
    preds = _common_ranges(request)
    criterio = _param(request, "criterio") or "3"
    wanted_situacoes = {"1": {"A", "I", "S"}, "2": {"E"}, "3": {"A", "I", "S"}, "4": {"S"}}.get(criterio)
    if wanted_situacoes is None:
        raise bad_param("criterio", criterio)
    preds.append(lambda r: r.get("situacao") in wanted_situacoes)
    search = _param(request, "pesquisa")
    if search:
        preds.append(lambda r: _contact_matches(r, search))
    document = _param(request, "numeroDocumento")
    if document:
        digits = only_digits(document)
        preds.append(lambda r: only_digits(r.get("numeroDocumento")) == digits)
    ids = _int_list(request, "idsContatos")
    if ids is not None:
        preds.append(lambda r: r["id"] in ids)
    person = _param(request, "tipoPessoa")
    if person:
        kind = {"1": "F", "2": "J", "3": "E"}.get(person)
        if kind is None:
            raise bad_param("tipoPessoa", person)
        preds.append(lambda r: r.get("tipo") == kind)
    uf = _param(request, "uf")
    if uf:
        preds.append(lambda r: r["endereco"]["geral"].get("uf", "").upper() == uf.upper())
    phone = _param(request, "telefone")
    if phone:
        digits_phone = only_digits(phone)
        preds.append(lambda r: digits_phone in (only_digits(r["telefone"]), only_digits(r["celular"])))
    return preds


def _contact_matches(record: dict[str, Any], search: str) -> bool:
    """`pesquisa`: nome, CPF/CNPJ, fantasia, e-mail or código."""
    needle = search.strip().lower()
    texts = (record.get("nome"), record.get("fantasia"), record.get("email"), record.get("codigo"))
    if any(needle in str(t or "").lower() for t in texts):
        return True
    # a CPF/CNPJ search is digits with the usual punctuation; the digits of an e-mail or a name
    # ("maria23@...") are not a document and must not match every CPF that contains them
    if search.strip(" .-/0123456789"):
        return False
    digits = only_digits(search)
    return bool(digits) and digits in only_digits(record.get("numeroDocumento"))


def product_filters(request: Request) -> list[Predicate]:
    preds = _common_ranges(request)
    criterio = _param(request, "criterio") or "1"
    situacoes = {"1": {"A", "I"}, "2": {"A"}, "3": {"I"}, "4": {"E"}, "5": {"A", "I", "E"}}.get(criterio)
    if situacoes is None:
        raise bad_param("criterio", criterio)
    preds.append(lambda r: r.get("situacao") in situacoes)
    kind = _param(request, "tipo") or "T"
    kinds: dict[str, Predicate] = {
        "T": lambda r: True, "P": lambda r: r["tipo"] == "P", "S": lambda r: r["tipo"] == "S",
        "E": lambda r: r["formato"] == "E", "PS": lambda r: r["tipo"] == "P" and r["formato"] == "S",
        "C": lambda r: r["formato"] == "V", "V": lambda r: bool(r.get("idProdutoPai")),
    }
    if kind not in kinds:
        raise bad_param("tipo", kind)
    preds.append(kinds[kind])
    name = _param(request, "nome")
    if name:
        preds.append(lambda r: name.lower() in r["nome"].lower())
    ids = _int_list(request, "idsProdutos")
    if ids is not None:
        preds.append(lambda r: r["id"] in ids)
    codes = request.query_params.getlist("codigos[]")
    if codes:
        preds.append(lambda r: r.get("codigo") in codes)
    gtins = request.query_params.getlist("gtins[]")
    if gtins:
        preds.append(lambda r: r.get("gtin") in gtins)
    category = _param(request, "idCategoria")
    if category:
        preds.append(lambda r: str(r["categoria"].get("id")) == category)
    return preds


def _eq_int(request: Request, name: str, get: Callable[[dict[str, Any]], Any]) -> list[Predicate]:
    raw = _param(request, name)
    if raw is None:
        return []
    try:
        wanted = int(raw)
    except ValueError as exc:
        raise bad_param(name, raw) from exc
    return [lambda r: get(r) == wanted]


def sale_filters(request: Request) -> list[Predicate]:
    preds = _range(request, "dataAlteracaoInicial", "dataAlteracaoFinal", _changed)
    preds += _range(request, "dataInicial", "dataFinal", _field_date("data"))
    preds += _range(request, "dataPrevistaInicial", "dataPrevistaFinal", _field_date("dataPrevista"))
    preds += _eq_int(request, "idContato", lambda r: r["contato"]["id"])
    preds += _eq_int(request, "numero", lambda r: r["numero"])
    preds += _eq_int(request, "idLoja", lambda r: r["loja"]["id"])
    preds += _eq_int(request, "idVendedor", lambda r: r["vendedor"]["id"])
    store_numbers = request.query_params.getlist("numerosLojas[]")
    if store_numbers:
        preds.append(lambda r: r.get("numeroLoja") in store_numbers)
    situations = _int_list(request, "idsSituacoes")
    if situations is not None:
        preds.append(lambda r: r["situacao"]["id"] in situations)
    return preds


def proposal_filters(request: Request) -> list[Predicate]:
    preds = _range(request, "dataInicial", "dataFinal", _field_date("data"))
    preds += _eq_int(request, "idContato", lambda r: r["contato"].get("id"))
    situation = _param(request, "situacao")
    if situation:
        preds.append(lambda r: r["situacao"].lower() == situation.lower())
    return preds


def payable_filters(request: Request) -> list[Predicate]:
    preds = _range(request, "dataEmissaoInicial", "dataEmissaoFinal", _field_date("dataEmissao"))
    preds += _range(request, "dataVencimentoInicial", "dataVencimentoFinal", _field_date("vencimento"))
    preds += _eq_int(request, "situacao", lambda r: r["situacao"])
    preds += _eq_int(request, "idContato", lambda r: r["contato"]["id"])
    return preds


def _no_check(state: BlingState, body: dict[str, Any]) -> list[dict[str, Any]]:
    return []


RESOURCES: dict[str, ResourceSpec] = {
    "contatos": ResourceSpec(
        "contatos", "/contatos", "idContato", "o contato", "CONTATOS", contact_template, derive_contact,
        check_contact, contact_filters, 204, _data_id, _data_id),
    "produtos": ResourceSpec(
        "produtos", "/produtos", "idProduto", "o produto", "PRODUTOS", product_template, derive_product,
        _no_check, product_filters, 200, _product_answer, _product_answer),
    "pedidos/vendas": ResourceSpec(
        "pedidos/vendas", "/pedidos/vendas", "idPedidoVenda", "a venda", "VENDAS", sale_template, derive_sale,
        check_contact_ref("VENDAS", required=True), sale_filters, 200, _sale_answer, _sale_answer),
    "propostas-comerciais": ResourceSpec(
        "propostas-comerciais", "/propostas-comerciais", "idPropostaComercial", "a proposta comercial",
        "PROPOSTAS_COMERCIAIS", proposal_template, derive_proposal,
        check_contact_ref("PROPOSTAS_COMERCIAIS", required=False), proposal_filters, 204, _data_id,
        _data_id),
    "contas/pagar": ResourceSpec(
        "contas/pagar", "/contas/pagar", "idContaPagar", "a conta a pagar", "CONTAS_PAGAR", payable_template,
        derive_payable, check_contact_ref("CONTAS_PAGAR", required=True), payable_filters, 200, _data_id,
        _data_id),
}
