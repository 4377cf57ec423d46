"""A record's story from its history rows and links: pure, so it is tested from recorded rows.

The verdict follows the newest row that decided something: a dead letter is a failure until a
later event succeeds; a link to a record on the other side means integrated; a rule's decision
means left out (by that rule, named in producers.selection_reasons); an event published and not
handled yet is pending. Nothing at all is "not seen yet", with what to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auvo_bling.story.model import Story, StoryStep, Verdict, VerdictKind, WebLink, WrittenRecord
from auvo_bling.story.weblinks import BLING_RECORDS, auvo_link, bling_link
from consumers.base import (
    CONFLICT_AUVO_WON,
    CONFLICT_BLING_WON,
    CREATED,
    DUPLICATE,
    ECHO,
    LINKED,
    STALE,
    UNCHANGED,
    UPDATED,
)
from consumers.sales.documents import CLOSED, DELETED_IN_BLING
from consumers.sales.quote_writer import TASK_OWNS
from consumers.sales.task_writer import NO_ITEMS
from infra.store.history import HistoryRow, Kind
from producers.selection_reasons import REASONS, reason_name

SUBJECT_NAMES = {
    "auvo.task": ("a tarefa", "the task"),
    "auvo.quotation": ("o orçamento", "the quotation"),
    "auvo.customer": ("o cliente do Auvo", "the Auvo customer"),
    "bling.contato": ("o contato do Bling", "the Bling contato"),
    "auvo.expense": ("a despesa", "the expense"),
}

# a task's state (producers.task_selection.TaskState) in the guide's words
STATE_NAMES = {
    "not_finished": ("não finalizada", "not finished"),
    "finished_automatically": ("finalizada automaticamente", "finished automatically"),
    "finished_manually": ("finalizada manualmente", "finished manually"),
}

# what a handler's outcome means, and whether the record then is on the other side
OUTCOMES: dict[str, tuple[str, str, bool]] = {
    CREATED: ("criado", "created", True),
    UPDATED: ("atualizado", "updated", True),
    UNCHANGED: ("nada mudou, nada escrito", "nothing changed, nothing written", True),
    LINKED: ("ligado ao registro que já existia", "linked to the record that already existed", True),
    ECHO: ("eco da nossa própria escrita, ignorado", "echo of our own write, dropped", True),
    STALE: ("mais antigo que o já aplicado, ignorado", "older than what was applied, dropped", True),
    DUPLICATE: ("evento repetido, ignorado", "repeated event, dropped", True),
    CONFLICT_AUVO_WON: ("conflito: valeu a alteração do Auvo", "conflict: Auvo's change won", True),
    CONFLICT_BLING_WON: ("conflito: valeu a alteração do Bling", "conflict: Bling's change won", True),
    CLOSED: ("o pedido já está fechado no Bling: não alterado", "closed in Bling: left alone", True),
    DELETED_IN_BLING: (
        "o documento foi excluído no Bling: não é recriado",
        "the document was deleted in Bling: not created again",
        False,
    ),
    TASK_OWNS: (
        "a tarefa deste orçamento já gera o pedido",
        "this quotation's task already makes the pedido",
        False,
    ),
    NO_ITEMS: ("sem itens com valor", "no valued items", False),
}
OUTCOME_NEXT = {
    DELETED_IN_BLING: (
        "O documento foi excluído no Bling. Para criá-lo de novo, libere a recriação "
        "(auvo-bling webhooks allow-recreate) e altere o registro no Auvo.",
        "The document was deleted in Bling. To create it again, allow it "
        "(auvo-bling webhooks allow-recreate) and change the record in Auvo.",
    ),
    TASK_OWNS: (
        "Nada a fazer: o pedido da tarefa deste orçamento é o documento do trabalho.",
        "Nothing to do: the pedido of this quotation's task is the job's document.",
    ),
    NO_ITEMS: (REASONS["no_values"].next_pt, REASONS["no_values"].next_en),
}


@dataclass(frozen=True)
class Link:
    """A record linked to the story's subject in the id map: `entity` as the id map names it,
    `system` the side the linked record lives on, `record_id` its id there."""

    entity: str
    system: str
    record_id: str


def _short(event_id: str | None) -> str:
    return (event_id or "")[:12]


def _version(row: HistoryRow) -> str:
    return f" (versão {row.version})" if row.version else ""


def _version_en(row: HistoryRow) -> str:
    return f" (version {row.version})" if row.version else ""


def _rule_facts(details: dict[str, Any]) -> tuple[str, str]:
    facts = []
    state = str(details.get("state") or "")
    if state:
        facts.append(("status", STATE_NAMES.get(state, (state, state))[0]))
    if details.get("task_type") not in (None, ""):
        facts.append(("tipo", str(details["task_type"])))
    if details.get("stage"):
        facts.append(("status do orçamento", str(details["stage"])))
    pt = "; ".join(f"{k} {v}" for k, v in facts)
    en = pt.replace("tipo", "type").replace("status do orçamento", "stage")
    if state in STATE_NAMES:
        en = en.replace(STATE_NAMES[state][0], STATE_NAMES[state][1])
    return (f" ({pt})" if pt else "", f" ({en})" if en else "")


def _target(details: dict[str, Any]) -> tuple[str, str]:
    entity, bling_id = details.get("link_entity"), details.get("bling_id")
    known = BLING_RECORDS.get(str(entity))
    if not known or not bling_id:
        return "", ""
    return f": {known[0]} {bling_id} no Bling", f": Bling {known[1]} {bling_id}"


def step_of(row: HistoryRow) -> StoryStep:
    """One history row in a person's words."""
    d = row.details
    if row.kind == Kind.left_out:
        code = row.code or ""
        facts_pt, facts_en = _rule_facts(d)
        rule_pt, rule_en = reason_name(code), reason_name(code, "en")
        pt = f"Lido pelo poller{_version(row)} e deixado de fora pela regra '{rule_pt}'{facts_pt}"
        en = f"Read by the poller{_version_en(row)}, left out by the rule '{rule_en}'{facts_en}"
    elif row.kind == Kind.published:
        pt = f"Lido pelo poller{_version(row)}: passou nas regras, evento {_short(row.event_id)} publicado"
        en = f"Read by the poller{_version_en(row)}: passed the rules, event {_short(row.event_id)} published"
    elif row.kind in (Kind.handled, Kind.written):
        pt_o, en_o, _ = OUTCOMES.get(row.code or "", (row.code or "", row.code or "", False))
        t_pt, t_en = _target(d)
        where = (
            f"evento {_short(row.event_id)}" if row.kind == Kind.handled else f"sem evento ({d.get('flow')})"
        )
        where_en = (
            f"event {_short(row.event_id)}"
            if row.kind == Kind.handled
            else f"outside an event ({d.get('flow')})"
        )
        pt = f"Tratado ({where}): {pt_o}{t_pt}"
        en = f"Handled ({where_en}): {en_o}{t_en}"
    elif row.kind == Kind.retried:
        message, attempts = d.get("error_message", ""), d.get("attempts")
        pt = f"Falha temporária {row.code} na tentativa {attempts}: será tentado de novo — {message}"
        en = f"Transient failure {row.code} on attempt {attempts}: retried — {message}"
    elif row.kind == Kind.dead_lettered:
        message, attempts = d.get("error_message", ""), d.get("attempts")
        pt = f"Enviado à fila de falhas (DLQ) após {attempts} tentativa(s): {row.code} — {message}"
        en = f"Dead-lettered after {attempts} attempt(s): {row.code} — {message}"
    else:
        pt = en = f"{row.kind} {row.code or ''}".strip()
    details = {
        k: v
        for k, v in {"code": row.code, "event_id": row.event_id, "version": row.version, **d}.items()
        if v is not None
    }
    return StoryStep(row.at, str(row.kind), pt, en, details)


def _written(links: Sequence[Link]) -> tuple[WrittenRecord, ...]:
    out = []
    for link in links:
        if link.system == "bling":
            known = BLING_RECORDS.get(link.entity)
            pt, en = (known[0], known[1]) if known else (link.entity, link.entity)
            out.append(
                WrittenRecord("bling", pt, en, link.record_id, bling_link(link.entity, link.record_id))
            )
        else:
            out.append(
                WrittenRecord(
                    "auvo", "cliente", "customer", link.record_id, auvo_link("auvo.customer", link.record_id)
                )
            )
    return tuple(out)


def _decisive(rows: Sequence[HistoryRow]) -> HistoryRow | None:
    for row in reversed(rows):
        if row.kind != Kind.written:
            return row
    return rows[-1] if rows else None


def _diagnosis(row: HistoryRow) -> dict[str, Any]:
    keep = ("attempts", "error_message", "hint", "http_status", "api_error_type", "field_errors", "flow")
    return {
        "error_class": row.code,
        "event_id": row.event_id,
        **{k: row.details[k] for k in keep if k in row.details},
    }


def assemble(
    query: str,
    subject: str | None,
    entity_id: str | None,
    rows: Sequence[HistoryRow],
    links: Sequence[Link] = (),
    *,
    checked: StoryStep | None = None,
    others: Sequence[tuple[str, str]] = (),
    retention_days: float | None = None,
) -> Story:
    """The story of one record. `checked`: what a look at the source just now found, when the
    store had nothing (a task Auvo's own status filter keeps from the poller): its `code` detail
    is the rule that leaves it out."""
    steps = [step_of(r) for r in rows]
    if checked is not None:
        steps.append(checked)
    name_pt, name_en = SUBJECT_NAMES.get(subject or "", ("o registro", "the record"))
    written = _written(links)
    last = _decisive(rows)
    verdict, next_pt, next_en = _verdict(last, written, checked, name_pt, name_en, retention_days)
    source = auvo_link(subject, entity_id) if subject and entity_id else None
    if subject == "bling.contato" and entity_id:
        source = bling_link("customer", entity_id)
    return Story(query, subject, entity_id, tuple(steps), verdict, next_pt, next_en, source, tuple(others))


def _verdict(
    last: HistoryRow | None,
    written: tuple[WrittenRecord, ...],
    checked: StoryStep | None,
    name_pt: str,
    name_en: str,
    retention_days: float | None,
) -> tuple[Verdict, str, str]:
    where_pt = ", ".join(f"{w.what_pt} {w.record_id}" for w in written)
    where_en = ", ".join(f"{w.what_en} {w.record_id}" for w in written)
    if last is not None and last.kind == Kind.dead_lettered:
        diag = _diagnosis(last)
        hint = diag.get("hint") or ""
        replay = f"auvo-bling dlq replay {_short(last.event_id)}"
        v = Verdict(
            VerdictKind.failed,
            f"{last.code} — {diag.get('error_message', '')}",
            f"{last.code} — {diag.get('error_message', '')}",
            last.code,
            written,
            diag,
        )
        return (
            v,
            f"Corrija a causa ({hint or 'veja a mensagem'}) e reenvie: {replay}",
            f"Fix the cause ({hint or 'see the message'}) and replay: {replay}",
        )
    if last is not None and last.kind == Kind.retried:
        diag = _diagnosis(last)
        v = Verdict(
            VerdictKind.pending,
            f"Tentando de novo após falha temporária {last.code} (tentativa {diag.get('attempts')})",
            f"Retrying after transient failure {last.code} (attempt {diag.get('attempts')})",
            last.code,
            written,
            diag,
        )
        return (
            v,
            "Aguarde: as tentativas seguem sozinhas; esgotadas, o evento vai para a DLQ com o diagnóstico.",
            "Wait: retries go on by themselves; once exhausted the event goes to the DLQ with its diagnosis.",
        )
    if written:
        v = Verdict(VerdictKind.integrated, where_pt, where_en, written=written)
        return v, "Nada a fazer: abra o registro pelo link.", "Nothing to do: open the record from its link."
    if last is not None and last.kind == Kind.left_out:
        return _left_out(last.code or "", name_pt, name_en)
    if last is not None and last.kind == Kind.handled:
        pt_o, en_o, there = OUTCOMES.get(last.code or "", (last.code or "", last.code or "", False))
        if there:
            v = Verdict(VerdictKind.integrated, pt_o, en_o, last.code)
            return v, "Nada a fazer.", "Nothing to do."
        nxt = OUTCOME_NEXT.get(last.code or "", ("", ""))
        v = Verdict(VerdictKind.left_out, f"Não integrado: {pt_o}", f"Not integrated: {en_o}", last.code)
        return v, nxt[0], nxt[1]
    if last is not None and last.kind == Kind.published:
        v = Verdict(
            VerdictKind.pending,
            f"Evento publicado às {last.at:%H:%M:%S}, ainda não tratado"
            if last.at
            else "Evento publicado, ainda não tratado",
            f"Event published at {last.at:%H:%M:%S}, not handled yet"
            if last.at
            else "Event published, not handled yet",
        )
        return (
            v,
            "Aguarde alguns segundos; se não andar, veja se os consumidores rodam (auvo-bling status).",
            "Wait a few seconds; if it does not move, check the consumers run (auvo-bling status).",
        )
    if checked is not None and checked.details.get("code"):
        return _left_out(str(checked.details["code"]), name_pt, name_en, checked=True)
    if checked is not None:
        v = Verdict(
            VerdictKind.not_seen,
            "passa nas regras hoje, mas o poller ainda não a leu",
            "passes the rules today, but the poller has not read it yet",
        )
        return (
            v,
            "Ela é lida quando muda no Auvo e se a data da tarefa está na janela lida (tasks.lookback_days / "
            "tasks.lookahead_days): altere a tarefa ou amplie a janela.",
            "It is read when it changes in Auvo and if its date is in the window read (tasks.lookback_days / "
            "tasks.lookahead_days): change the task or widen the window.",
        )
    kept = f" nos últimos {retention_days:g} dias" if retention_days else ""
    kept_en = f" in the last {retention_days:g} days" if retention_days else ""
    v = Verdict(
        VerdictKind.not_seen,
        f"nada sobre {name_pt} foi registrado{kept}",
        f"nothing about {name_en} was recorded{kept_en}",
    )
    return (
        v,
        "Confira o número; se a integração de tarefas/orçamentos está habilitada; e aguarde um ciclo "
        "de leitura (a tarefa é lida quando muda no Auvo).",
        "Check the number, that the task/quotation flow is enabled, and wait one poll (a task is read "
        "when it changes in Auvo).",
    )


def _left_out(code: str, name_pt: str, name_en: str, *, checked: bool = False) -> tuple[Verdict, str, str]:
    reason = REASONS.get(code)
    how_pt = " (verificado agora no Auvo)" if checked else ""
    how_en = " (checked in Auvo just now)" if checked else ""
    v = Verdict(
        VerdictKind.left_out,
        f"Deixado de fora pela regra '{reason_name(code)}'{how_pt}",
        f"Left out by the rule '{reason_name(code, 'en')}'{how_en}",
        code,
    )
    if reason is None:
        return v, "", ""
    return v, reason.next_pt, reason.next_en


__all__ = ["OUTCOMES", "Link", "WebLink", "assemble", "step_of"]
