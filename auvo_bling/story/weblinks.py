"""Where a record opens in Bling's and Auvo's web apps (for a person to click; never called).

Seen in public integrations' code: Bling's `vendas.php#edit/<id>` (pedido de venda),
`contatos.php#edit/<id>` (contato), `propostas.comerciais.php#edit/<id>` (proposta comercial), and
Auvo's task report `app2.auvo.com.br/relatorioTarefas/DetalheTarefa/<taskID>`. Guessed (marked
`guessed`): Bling's contas a pagar page and Auvo's customer and quotation pages. Auvo serves
accounts from several hosts (app, app2, app3...): `app2` is the one the public examples use.
"""

from __future__ import annotations

from auvo_bling.story.model import WebLink

BLING_WEB = "https://www.bling.com.br"
AUVO_WEB = "https://app2.auvo.com.br"

# id map entity -> (what it is in Bling, pt, en, page, guessed)
BLING_RECORDS: dict[str, tuple[str, str, str, bool]] = {
    "task": ("pedido de venda", "sales order (pedido de venda)", "vendas.php#edit/{id}", False),
    "quote_order": ("pedido de venda", "sales order (pedido de venda)", "vendas.php#edit/{id}", False),
    "quote": (
        "proposta comercial",
        "sales proposal (proposta comercial)",
        "propostas.comerciais.php#edit/{id}",
        False,
    ),
    "customer": ("contato", "contact (contato)", "contatos.php#edit/{id}", False),
    "expense": ("conta a pagar", "account payable (conta a pagar)", "contas.pagar.php#edit/{id}", True),
}
AUVO_PAGES: dict[str, tuple[str, bool]] = {
    "auvo.task": ("relatorioTarefas/DetalheTarefa/{id}", False),
    "auvo.customer": ("clientes/editar/{id}", True),
    "auvo.quotation": ("orcamentos/detalhe/{id}", True),
}


def bling_link(entity: str, record_id: str) -> WebLink | None:
    known = BLING_RECORDS.get(entity)
    if known is None:
        return None
    return WebLink(f"{BLING_WEB}/{known[2].format(id=record_id)}", guessed=known[3])


def auvo_link(subject: str, record_id: str) -> WebLink | None:
    known = AUVO_PAGES.get(subject)
    if known is None:
        return None
    return WebLink(f"{AUVO_WEB}/{known[0].format(id=record_id)}", guessed=known[1])
