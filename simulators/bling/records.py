"""Bling records: a fully populated template per resource, derived fields, cross-record rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulators.tax_ids import is_valid_cnpj, is_valid_cpf, only_digits

if TYPE_CHECKING:
    from simulators.bling.state import BlingState


# --- templates: a fully populated record per resource, values valid for the response schemas ------


def _address() -> dict[str, str]:
    keys = ("endereco", "cep", "bairro", "municipio", "uf", "numero", "complemento")
    return dict.fromkeys(keys, "")


def contact_template(state: BlingState) -> dict[str, Any]:
    return {
        "id": 0, "nome": "", "codigo": "", "situacao": "A", "numeroDocumento": "", "telefone": "",
        "celular": "", "fantasia": "", "tipo": "", "indicadorIe": 9, "ie": "", "rg": "",
        "inscricaoMunicipal": "", "orgaoEmissor": "", "email": "", "emailNotaFiscal": "", "orgaoPublico": "N",
        "endereco": {"geral": _address(), "cobranca": _address()},
        "vendedor": {"id": 0},
        "dadosAdicionais": {"naturalidade": ""},
        "financeiro": {"limiteCredito": 0, "condicaoPagamento": "", "categoria": {"id": 0}},
        "pais": {"nome": ""},
        "tiposContato": [],
        "pessoasContato": [],
    }


def product_template(state: BlingState) -> dict[str, Any]:
    return {
        "id": 0, "nome": "", "codigo": "", "preco": 0.0, "tipo": "P", "situacao": "A", "formato": "S",
        "descricaoCurta": "", "imagemURL": "", "unidade": "UN", "pesoLiquido": 0.0, "pesoBruto": 0.0,
        "volumes": 0, "itensPorCaixa": 0.0, "gtin": "", "gtinEmbalagem": "", "tipoProducao": "P",
        "condicao": 0, "freteGratis": False, "marca": "", "descricaoComplementar": "", "linkExterno": "",
        "observacoes": "", "descricaoEmbalagemDiscreta": "", "categoria": {"id": 0},
        "estoque": {"minimo": 0.0, "maximo": 0.0, "crossdocking": 0, "localizacao": "",
                    "saldoVirtualTotal": 0.0},
        "dimensoes": {"largura": 0.0, "altura": 0.0, "profundidade": 0.0},
        "tributacao": {"origem": 0, "ncm": "", "cest": "", "percentualTributos": 0.0},
        "midia": {"video": {"url": ""}, "imagens": {"externas": [], "internas": []}},
        "linhaProduto": {"id": 0},
        "camposCustomizados": [],
        "variacoes": [],
        "artigoPerigoso": False,
        "precoCusto": 0.0,
    }


def sale_template(state: BlingState) -> dict[str, Any]:
    today = state.now().date().isoformat()
    return {
        "id": 0, "numero": 0, "numeroLoja": "", "data": today, "dataSaida": today, "dataPrevista": today,
        "totalProdutos": 0.0, "total": 0.0,
        "contato": {"id": 0, "nome": "", "tipoPessoa": "F", "numeroDocumento": ""},
        "situacao": {"id": 6, "valor": 0}, "loja": {"id": 0},
        "numeroPedidoCompra": "", "outrasDespesas": 0.0, "observacoes": "", "observacoesInternas": "",
        "desconto": {"valor": 0.0, "unidade": "REAL"}, "categoria": {"id": 0}, "notaFiscal": {"id": 0},
        "tributacao": {"totalICMS": 0.0, "totalIPI": 0.0}, "itens": [], "parcelas": [],
        "transporte": {"fretePorConta": 0, "frete": 0.0, "quantidadeVolumes": 0, "pesoBruto": 0.0,
                       "prazoEntrega": 0, "contato": {"id": 0, "nome": ""}, "etiqueta": {}, "volumes": []},
        "vendedor": {"id": 0}, "intermediador": {"cnpj": "", "nomeUsuario": ""},
        "taxas": {"taxaComissao": 0.0, "custoFrete": 0.0, "valorBase": 0.0},
    }


def proposal_template(state: BlingState) -> dict[str, Any]:
    return {
        "id": 0, "data": state.now().date().isoformat(), "situacao": "Pendente", "total": 0.0,
        "totalProdutos": 0.0, "numero": 0, "contato": {"id": 0}, "loja": {"id": 0}, "desconto": 0.0,
        "outrasDespesas": 0.0, "garantia": 0, "dataProximoContato": "", "observacoes": "",
        "observacaoInterna": "", "totalOutrosItens": 0, "aosCuidadosDe": "", "introducao": "",
        "prazoEntrega": "", "itens": [], "parcelas": [], "vendedor": {"id": 0},
        "transporte": {"freteModalidade": 0, "frete": 0.0, "quantidadeVolumes": 0.0, "prazoEntrega": 0,
                       "pesoBruto": 0.0, "contato": {"id": 0, "nome": ""},
                       "volumes": {"id": 0, "servico": "", "codigoRastreamento": ""}},
    }


def payable_template(state: BlingState) -> dict[str, Any]:
    today = state.now().date().isoformat()
    return {
        "id": 0, "situacao": 1, "vencimento": today, "valor": 0.0, "contato": {"id": 0},
        "formaPagamento": {"id": 0}, "saldo": 0.0, "dataEmissao": today, "vencimentoOriginal": today,
        "numeroDocumento": "", "competencia": today, "historico": "", "numeroBanco": "",
        "portador": {"id": 0}, "categoria": {"id": 0}, "borderos": [], "ocorrencia": {"tipo": 1},
    }


# --- derived fields and cross-record rules --------------------------------------------------------


def derive_contact(state: BlingState, record: dict[str, Any]) -> None:
    """Bling fills `tipo` from the document length when a test hook leaves it out."""
    digits = only_digits(record.get("numeroDocumento"))
    if "tipo" not in record or not record["tipo"]:
        record["tipo"] = "J" if len(digits) == 14 else "F"


def derive_product(state: BlingState, record: dict[str, Any]) -> None:
    record["precoCusto"] = float(record.get("precoCusto") or 0.0)


def _items_total(items: list[dict[str, Any]]) -> float:
    total = 0.0
    for item in items:
        quantity = float(item.get("quantidade") or 0)
        value = float(item.get("valor") or 0)
        discount = float(item.get("desconto") or 0)
        total += quantity * value * (1 - discount / 100)
    return round(total, 2)


def _number_items(state: BlingState, items: list[dict[str, Any]]) -> None:
    for item in items:
        if not item.get("id"):
            item["id"] = state.new_id()
        item.setdefault("valorLista", item.get("valor", 0.0))
        item.setdefault("descricao", "")
        item.setdefault("quantidade", 0.0)
        item.setdefault("valor", 0.0)


def derive_sale(state: BlingState, record: dict[str, Any]) -> None:
    contact = state.contacts.get(int(record["contato"].get("id") or 0))
    if contact is not None:
        record["contato"] = {"id": contact["id"], "nome": contact["nome"], "tipoPessoa": contact["tipo"],
                             "numeroDocumento": only_digits(contact.get("numeroDocumento"))}
    if not record.get("numero"):
        record["numero"] = state.next_numero("pedidos/vendas")
    _number_items(state, record["itens"])
    for parcela in record["parcelas"]:
        if not parcela.get("id"):
            parcela["id"] = state.new_id()
    record["situacao"].setdefault("valor", 0)
    record["totalProdutos"] = _items_total(record["itens"])
    discount = float(record["desconto"].get("valor") or 0)
    if record["desconto"].get("unidade") == "PERCENTUAL":
        discount = record["totalProdutos"] * discount / 100
    extra = float(record.get("outrasDespesas") or 0) + float(record["transporte"].get("frete") or 0)
    record["total"] = round(record["totalProdutos"] - discount + extra, 2)


def derive_proposal(state: BlingState, record: dict[str, Any]) -> None:
    if not record.get("numero"):
        record["numero"] = state.next_numero("propostas-comerciais")
    record["totalProdutos"] = _items_total(record["itens"])
    extra = float(record.get("outrasDespesas") or 0) + float(record["transporte"].get("frete") or 0)
    record["total"] = round(record["totalProdutos"] - float(record.get("desconto") or 0) + extra, 2)


def derive_payable(state: BlingState, record: dict[str, Any]) -> None:
    record.setdefault("vencimentoOriginal", record["vencimento"])
    if not record.get("saldo"):
        record["saldo"] = record["valor"]


def check_contact(state: BlingState, body: dict[str, Any]) -> list[dict[str, Any]]:
    if not state.validate_documents:
        return []
    digits = only_digits(body.get("numeroDocumento"))
    if not digits:
        return []
    kind = body.get("tipo")
    ok = is_valid_cnpj(digits) if (kind == "J" or len(digits) == 14) else is_valid_cpf(digits)
    if ok:
        return []
    label = "CNPJ" if (kind == "J" or len(digits) == 14) else "CPF"
    return [{"code": 5, "msg": f"O {label} informado é inválido", "element": "numeroDocumento",
             "namespace": "CONTATOS", "collection": []}]


def check_contact_ref(namespace: str, required: bool) -> Callable[[BlingState, dict[str, Any]], list[Any]]:
    """Orders and payables must point at an existing contact, as in Bling's UI."""

    def check(state: BlingState, body: dict[str, Any]) -> list[dict[str, Any]]:
        ref = body.get("contato") or {}
        contact_id = ref.get("id") if isinstance(ref, dict) else None
        if contact_id in (None, 0) and not required:
            return []
        if isinstance(contact_id, int) and contact_id in state.contacts:
            return []
        return [{"code": 6, "msg": f"O contato {contact_id} não foi encontrado", "element": "contato.id",
                 "namespace": namespace, "collection": []}]

    return check
