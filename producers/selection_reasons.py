"""The reasons a rule of the options leaves a task or quotation out: codes with their names.

One table, read by the pollers (`task_selection.why_not_*` return these codes), the demo's summary
(what each rule left out) and a record's story (auvo_bling/story: "which rule left it out, and what
to do"). Names are the activation guide's own words for the option, in pt-BR and English.
"""

from __future__ import annotations

from dataclasses import dataclass

DISABLED = "disabled"
STATUS = "status"
NO_VALUES = "no_values"
TASK_TYPE = "task_type"
CUSTOMER_GROUP = "customer_group"
STAGE = "stage"


@dataclass(frozen=True)
class Reason:
    code: str
    name_pt: str  # the guide's option
    name_en: str
    next_pt: str  # what to do so the record is integrated
    next_en: str


REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(
            DISABLED,
            "integração desabilitada",
            "flow disabled",
            "Habilite a integração (Integração de tarefas / Integração de orçamentos).",
            "Enable the flow (Integração de tarefas / Integração de orçamentos).",
        ),
        Reason(
            STATUS,
            "Status das tarefas",
            "task status",
            "A tarefa será integrada quando chegar ao status escolhido em 'Status das tarefas' "
            "(ou escolha outro status nas opções).",
            "The task is integrated once it reaches the status chosen in 'Status das tarefas' "
            "(or choose another status in the options).",
        ),
        Reason(
            TASK_TYPE,
            "Tipos de tarefa",
            "task type",
            "Inclua o tipo desta tarefa em 'Tipos de tarefa' (ou deixe 'todos').",
            "Add this task's type to 'Tipos de tarefa' (or leave it at 'all').",
        ),
        Reason(
            CUSTOMER_GROUP,
            "Grupo de clientes",
            "customer group",
            "Inclua o cliente da tarefa no grupo escolhido em 'Grupo de clientes' (ou limpe a opção).",
            "Add the task's customer to the group chosen in 'Grupo de clientes' (or clear the option).",
        ),
        Reason(
            NO_VALUES,
            "sem produtos/serviços com valores",
            "no valued products or services",
            "Inclua produtos ou serviços com valor na tarefa: ela é integrada assim que tiver valores.",
            "Add products or services with a value to the task: it is integrated as soon as it has them.",
        ),
        Reason(
            STAGE,
            "Status dos orçamentos",
            "quotation stage",
            "O orçamento será integrado quando chegar ao status escolhido em 'Status dos orçamentos'.",
            "The quotation is integrated once it reaches the stage chosen in 'Status dos orçamentos'.",
        ),
    )
}


def reason_name(code: str, lang: str = "pt") -> str:
    """The rule's name in `lang` ("pt" or "en"); an unknown code is shown as it is."""
    reason = REASONS.get(code)
    if reason is None:
        return code.replace("_", " ")
    return reason.name_en if lang == "en" else reason.name_pt
