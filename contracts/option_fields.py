"""The activation guide's options as a table: what the console shows and the CLI accepts.

One row per company option, keyed by the setting's dotted path (infra/settings.py), with the
guide's own words in Portuguese and their English rendering. The table is pure data: the console
renders it, `auvo-bling options` prints it, auvo_bling/company_options.py validates against the
settings models. A new option is one row here (and its field in the settings).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.options import Direction, TaskStatus


@dataclass(frozen=True)
class Choice:
    value: str
    label_pt: str
    label_en: str


@dataclass(frozen=True)
class OptionField:
    """One option. `kind`: bool, choice, int, int_list, text, number, secret.

    `choices_source` names where a form gets the choices the guide fills from the provider
    (Auvo's task types, customer groups) when they are not a fixed list. `selects_for` names the
    poller whose selection the option narrows: after a change, that poller re-reads its lookback
    once, so a record the old value left out (and the cursor went past) is seen again.
    """

    key: str
    label_pt: str
    label_en: str
    help_pt: str
    help_en: str
    kind: str
    choices: tuple[Choice, ...] = ()
    secret: bool = False
    group: str = ""
    choices_source: str | None = None
    selects_for: str | None = None

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


ENABLED_CHOICES = (
    Choice("true", "Habilitado", "Enabled"),
    Choice("false", "Desabilitado", "Disabled"),
)

DIRECTION_CHOICES = (
    Choice(
        Direction.auvo_to_bling,
        "Os clientes são enviados do Auvo para o Bling",
        "Customers go from Auvo to Bling",
    ),
    Choice(
        Direction.bling_to_auvo,
        "Os clientes são enviados do Bling para o Auvo",
        "Customers go from Bling to Auvo",
    ),
    Choice(Direction.both, "Os clientes são enviados entre ambos", "Customers go both ways"),
)

TASK_STATUS_CHOICES = (
    Choice(TaskStatus.all, "Todos", "All"),
    Choice(TaskStatus.not_finished, "Não finalizado", "Not finished"),
    Choice(TaskStatus.finished_automatically, "Finalizado automaticamente", "Finished automatically"),
    Choice(TaskStatus.finished_manually, "Finalizado manualmente", "Finished manually"),
    Choice(
        TaskStatus.finished_auto_or_manual,
        "Finalizado automaticamente ou manualmente",
        "Finished automatically or manually",
    ),
)

QUOTE_TARGET_CHOICES = (
    Choice("proposta_comercial", "Proposta comercial", "Commercial proposal"),
    Choice("pedido_de_venda", "Pedido de venda", "Sales order"),
)

GROUP_BLING = "bling"
GROUP_AUVO = "auvo"
GROUP_CUSTOMERS = "customers"
GROUP_TASKS = "tasks"
GROUP_QUOTES = "quotes"
GROUP_EXPENSES = "expenses"
GROUP_POLL = "poll"
GROUP_PRODUCTS = "products"
GROUP_QUOTA = "quota"

OPTION_FIELDS: tuple[OptionField, ...] = (
    OptionField(
        "bling.client_id",
        "Client ID",
        "Client ID",
        "Copie da aba “Informações do app” da sua aplicação no Bling.",
        "Copy it from the “Informações do app” tab of your application in Bling.",
        "text",
        group=GROUP_BLING,
    ),
    OptionField(
        "bling.client_secret",
        "Client Secret",
        "Client Secret",
        "Copie da aba “Informações do app” da sua aplicação no Bling. Nunca é exibido de volta.",
        "Copy it from the “Informações do app” tab of your application in Bling. Never shown back.",
        "secret",
        secret=True,
        group=GROUP_BLING,
    ),
    OptionField(
        "auvo.api_key",
        "Chave da API do Auvo",
        "Auvo API key",
        "Na aba de integrações do Auvo, com a API “ATIVADA”.",
        "In Auvo's Integrações tab, with the API switched to “ATIVADA”.",
        "text",
        group=GROUP_AUVO,
    ),
    OptionField(
        "auvo.api_token",
        "Token da API do Auvo",
        "Auvo API token",
        "O “TOKEN” da aba de integrações do Auvo (botão “Copiar”). Nunca é exibido de volta.",
        "The “TOKEN” of Auvo's Integrações tab (the “Copiar” button). Never shown back.",
        "secret",
        secret=True,
        group=GROUP_AUVO,
    ),
    OptionField(
        "customers.direction",
        "Padrão de integração de clientes",
        "Customer integration pattern",
        "Nesta opção, deverá ser escolhido o fluxo de integração de clientes desejados.",
        "Choose which way customers flow between Auvo and Bling.",
        "choice",
        DIRECTION_CHOICES,
        group=GROUP_CUSTOMERS,
    ),
    OptionField(
        "tasks.enabled",
        "Integração de tarefas",
        "Task integration",
        "Ativa ou desativa a integração de tarefas. Caso você queira integrar somente os orçamentos, "
        "deixe como desabilitado, com isso não será duplicado no Bling.",
        "Switches the task integration on or off. To integrate only quotations, leave it disabled, "
        "so nothing is duplicated in Bling.",
        "bool",
        ENABLED_CHOICES,
        group=GROUP_TASKS,
    ),
    OptionField(
        "tasks.status",
        "Status das tarefas",
        "Task status",
        "Em qual status a tarefa entrará no fluxo de integração. Apenas será integrada caso possua "
        "produtos/serviços com valores incluídos.",
        "The status at which a task enters the integration. A task is integrated only once it has "
        "products/services with values.",
        "choice",
        TASK_STATUS_CHOICES,
        group=GROUP_TASKS,
        selects_for="auvo.tasks",
    ),
    OptionField(
        "tasks.task_types",
        "Tipos de tarefa",
        "Task types",
        "Opcional. Por padrão “todos”; com tipos selecionados, apenas as tarefas desses tipos entrarão "
        "no fluxo de integração.",
        "Optional. All by default; with types selected, only tasks of those types are integrated.",
        "int_list",
        group=GROUP_TASKS,
        choices_source="auvo.task_types",
        selects_for="auvo.tasks",
    ),
    OptionField(
        "tasks.customer_group",
        "Grupo de clientes",
        "Customer group",
        "Opcional. Somente as tarefas vinculadas a clientes deste grupo serão integradas para o Bling.",
        "Optional. Only tasks of customers in this group are integrated into Bling.",
        "int",
        group=GROUP_TASKS,
        choices_source="auvo.customer_groups",
        selects_for="auvo.tasks",
    ),
    # the job's outcome back on the Auvo task (issue 17, item 3)
    OptionField(
        "tasks.outcome",
        "Situação do pedido na tarefa",
        "Order status on the task",
        "Quando o pedido de venda da tarefa é atendido, cancelado ou tem a nota fiscal emitida no Bling, "
        "a tarefa no Auvo mostra o número do pedido (ID externo) e a situação como palavra-chave.",
        "When the task's sales order is attended, cancelled or invoiced in Bling, the Auvo task shows "
        "the order number (external id) and the state as a keyword.",
        "bool",
        ENABLED_CHOICES,
        group=GROUP_TASKS,
    ),
    OptionField(
        "tasks.keyword_attended",
        "Palavra-chave: pedido atendido",
        "Keyword: order attended",
        "Opcional. ID da palavra-chave do Auvo para o pedido atendido; vazio cria \"Pedido atendido\".",
        "Optional. Auvo keyword id for an attended order; empty creates \"Pedido atendido\".",
        "int",
        group=GROUP_TASKS,
    ),
    OptionField(
        "tasks.keyword_cancelled",
        "Palavra-chave: pedido cancelado",
        "Keyword: order cancelled",
        "Opcional. ID da palavra-chave do Auvo para o pedido cancelado; vazio cria \"Pedido cancelado\".",
        "Optional. Auvo keyword id for a cancelled order; empty creates \"Pedido cancelado\".",
        "int",
        group=GROUP_TASKS,
    ),
    OptionField(
        "tasks.keyword_invoiced",
        "Palavra-chave: nota fiscal emitida",
        "Keyword: invoice issued",
        "Opcional. ID da palavra-chave do Auvo para o pedido com nota fiscal emitida; vazio cria "
        "\"Nota fiscal emitida\".",
        "Optional. Auvo keyword id for an order whose invoice was issued; empty creates "
        "\"Nota fiscal emitida\".",
        "int",
        group=GROUP_TASKS,
    ),
    OptionField(
        "quotes.enabled",
        "Integração de orçamentos",
        "Quotation integration",
        "Habilita ou desabilita os orçamentos. Com a integração de tarefas habilitada, você pode "
        "desativar os orçamentos, evitando duplicações.",
        "Switches quotations on or off. With tasks enabled you may switch quotations off to avoid "
        "duplicates.",
        "bool",
        ENABLED_CHOICES,
        group=GROUP_QUOTES,
    ),
    OptionField(
        "quotes.stage",
        "Status dos orçamentos",
        "Quotation status",
        "A partir do momento que o orçamento entrar no status definido, ele será integrado.",
        "A quotation is integrated once it reaches this status (Auvo's quotation stage).",
        "text",
        group=GROUP_QUOTES,
        choices_source="auvo.quote_stages",
    ),
    OptionField(
        "quotes.target",
        "Documento criado no Bling",
        "Document created in Bling",
        "O que um orçamento vira no Bling: proposta comercial ou pedido de venda.",
        "What a quotation becomes in Bling: a commercial proposal or a sales order.",
        "choice",
        QUOTE_TARGET_CHOICES,
        group=GROUP_QUOTES,
    ),
    OptionField(
        "expenses.enabled",
        "Integração de despesas (Contas a Pagar)",
        "Expense integration (accounts payable)",
        "As despesas dos técnicos no Auvo viram contas a pagar no Bling.",
        "Technicians' expenses in Auvo become accounts payable in Bling.",
        "bool",
        ENABLED_CHOICES,
        group=GROUP_EXPENSES,
    ),
    OptionField(
        "catalog.unmatched",
        "Produto sem correspondência no Bling",
        "Product with no match in Bling",
        "Quando um produto ou serviço do Auvo não corresponde a nenhum produto do Bling (pelo código/SKU, "
        "pelo ID externo ou pelo GTIN): criá-lo no Bling, ou reter a tarefa para que alguém preencha o "
        "código no Auvo ou mapeie o produto.",
        "When an Auvo product or service matches no Bling produto (by code/SKU, external id or GTIN): "
        "create it in Bling, or hold the task until someone fills the code in Auvo or maps the product.",
        "choice",
        (
            Choice("create", "Criar o produto no Bling", "Create the produto in Bling"),
            Choice("hold", "Reter para revisão", "Hold for review"),
        ),
        group=GROUP_PRODUCTS,
    ),
    OptionField(
        "catalog.bling_to_auvo",
        "Produtos do Bling no Auvo",
        "Bling products in Auvo",
        "Os produtos (tipo P) e serviços (tipo S) do Bling viram produtos e serviços no Auvo, com nome, "
        "preço, custo, situação e o saldo em estoque do Bling; o Auvo passa a usar o catálogo do Bling.",
        "Bling's produtos (tipo P) and serviços (tipo S) become Auvo products and services, with name, "
        "price, cost, active and Bling's stock; Auvo then uses Bling's catalogue.",
        "bool",
        ENABLED_CHOICES,
        group=GROUP_PRODUCTS,
    ),
    OptionField(
        "poll.interval_seconds",
        "Intervalo de consulta (segundos)",
        "Poll interval (seconds)",
        "De quanto em quanto tempo o Auvo e o Bling são consultados por mudanças enquanto elas chegam.",
        "How often Auvo and Bling are asked for changes while changes flow.",
        "number",
        group=GROUP_POLL,
    ),
    OptionField(
        "poll.max_interval_seconds",
        "Intervalo máximo sem mudanças (segundos)",
        "Longest interval while idle (seconds)",
        "Sem mudanças, as consultas se espaçam até este intervalo (economiza a cota diária do Bling); "
        "a primeira mudança volta ao intervalo de consulta.",
        "With no changes, polls stretch up to this interval (saving Bling's daily quota); the first "
        "change brings back the poll interval.",
        "number",
        group=GROUP_POLL,
    ),
    OptionField(
        "bling.daily_budget_share",
        "Parte da cota diária do Bling para esta integração",
        "Share of Bling's daily quota for this integration",
        "Fração das 120.000 requisições diárias da conta Bling que esta integração pode usar "
        "(a conta tem outros aplicativos); por exemplo 0.25 = 30.000 por dia.",
        "Fraction of the Bling account's 120,000 daily requests this integration may use (the account "
        "has other apps); e.g. 0.25 = 30,000 a day.",
        "number",
        group=GROUP_QUOTA,
    ),
)

FIELDS_BY_KEY: dict[str, OptionField] = {f.key: f for f in OPTION_FIELDS}
REREAD_KEYS: frozenset[str] = frozenset(f.key for f in OPTION_FIELDS if f.selects_for)
SECRET_KEYS: frozenset[str] = frozenset(f.key for f in OPTION_FIELDS if f.secret)
MASK = "••••"
