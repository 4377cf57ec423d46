"""A record's story assembled from recorded history rows (auvo_bling/story/assemble.py): pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auvo_bling.story import Link, StoryStep, VerdictKind, assemble, story_lines
from auvo_bling.story.lookup import document_of
from infra.store.history import HistoryRow, Kind
from producers.selection_reasons import REASONS

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def left_out(code: str, minutes: float = 0, **details: object) -> HistoryRow:
    return HistoryRow(
        "auvo.task", "77", Kind.left_out, code, None, "2026-12-02T09:00:00", dict(details), at(minutes)
    )


def published(minutes: float = 1, event_id: str = "ev-1") -> HistoryRow:
    return HistoryRow(
        "auvo.task", "77", Kind.published, None, event_id, "2026-12-02T09:05:00", {}, at(minutes)
    )


def handled(code: str, minutes: float = 2, bling_id: str | None = "9001") -> HistoryRow:
    details = {"flow": "sales.task_to_pedido"}
    if bling_id:
        details.update(link_entity="task", auvo_id="77", bling_id=bling_id)
    return HistoryRow("auvo.task", "77", Kind.handled, code, "ev-1", "v", details, at(minutes))


def dead(minutes: float = 3) -> HistoryRow:
    details = {
        "flow": "sales.task_to_pedido",
        "attempts": 1,
        "error_message": "Não foi possível salvar o contato",
        "hint": "fix the record in Auvo, then replay",
        "http_status": 400,
        "field_errors": [{"element": "numeroDocumento", "msg": "O CPF informado é inválido"}],
    }
    return HistoryRow(
        "auvo.task", "77", Kind.dead_lettered, "ApiRejected", "ev-1abcdef1234", "v", details, at(minutes)
    )


@pytest.mark.parametrize("code", sorted(REASONS))
def test_a_task_left_out_names_its_rule_and_what_to_do(code: str) -> None:
    story = assemble("77", "auvo.task", "77", [left_out(code, state="not_finished", task_type=3)])
    reason = REASONS[code]
    assert story.verdict.kind is VerdictKind.left_out
    assert story.verdict.reason_code == code
    assert reason.name_pt in story.verdict.summary_pt and reason.name_en in story.verdict.summary_en
    assert story.next_step_pt == reason.next_pt and story.next_step_en == reason.next_en
    [step] = story.steps
    assert step.kind == "left_out" and reason.name_pt in step.summary_pt and "tipo 3" in step.summary_pt


def test_the_newest_decision_wins_left_out_then_published_then_integrated() -> None:
    rows = [left_out("no_values", 0), published(1)]
    pending = assemble("77", "auvo.task", "77", rows)
    assert pending.verdict.kind is VerdictKind.pending
    assert "12:01:00" in pending.verdict.summary_pt

    rows.append(handled("created"))
    done = assemble("77", "auvo.task", "77", rows, [Link("task", "bling", "9001")])
    assert done.verdict.kind is VerdictKind.integrated
    [written] = done.verdict.written
    assert (written.system, written.record_id, written.what_pt) == ("bling", "9001", "pedido de venda")
    assert written.link is not None and written.link.url == "https://www.bling.com.br/vendas.php#edit/9001"
    assert not written.link.guessed
    assert done.source_link is not None
    assert done.source_link.url == "https://app2.auvo.com.br/relatorioTarefas/DetalheTarefa/77"
    assert [s.kind for s in done.steps] == ["left_out", "published", "handled"]
    assert "pedido de venda 9001 no Bling" in done.steps[-1].summary_pt


def test_a_dead_letter_is_a_failure_with_its_diagnosis_and_the_replay_to_run() -> None:
    story = assemble("77", "auvo.task", "77", [published(1), dead(3)])
    assert story.verdict.kind is VerdictKind.failed
    assert story.verdict.reason_code == "ApiRejected"
    diag = story.verdict.diagnosis
    assert diag is not None and diag["hint"] == "fix the record in Auvo, then replay"
    assert diag["field_errors"][0]["element"] == "numeroDocumento"
    assert "auvo-bling dlq replay ev-1abcdef12" in story.next_step_pt
    text = "\n".join(story_lines(story))
    assert (
        "FALHOU" in text
        and "campo: numeroDocumento: O CPF informado é inválido" in text
        and "dica: fix the record" in text
    )


def test_a_dead_letter_followed_by_a_success_is_integrated_and_a_later_failure_is_not_hidden() -> None:
    link = [Link("task", "bling", "9001")]
    recovered = assemble("77", "auvo.task", "77", [published(1), dead(2), handled("created", 5)], link)
    assert recovered.verdict.kind is VerdictKind.integrated
    failed_update = assemble("77", "auvo.task", "77", [handled("created", 2), dead(6)], link)
    assert failed_update.verdict.kind is VerdictKind.failed
    assert failed_update.verdict.written  # what was written before is still shown


def test_retrying_is_pending_with_its_diagnosis() -> None:
    row = HistoryRow(
        "auvo.task",
        "77",
        Kind.retried,
        "RateLimited",
        "ev-1",
        "v",
        {"attempts": 2, "error_message": "429"},
        at(2),
    )
    story = assemble("77", "auvo.task", "77", [published(1), row])
    assert story.verdict.kind is VerdictKind.pending
    assert story.verdict.diagnosis is not None and story.verdict.diagnosis["attempts"] == 2
    assert "tentativa 2" in story.verdict.summary_pt


def test_a_handler_outcome_that_keeps_it_out_is_named() -> None:
    story = assemble(
        "77", "auvo.task", "77", [published(1), handled("skipped_deleted_in_bling", bling_id=None)]
    )
    assert story.verdict.kind is VerdictKind.left_out
    assert "excluído no Bling" in story.verdict.summary_pt
    assert "allow-recreate" in story.next_step_pt


def test_nothing_recorded_is_not_seen_unless_a_look_at_auvo_names_the_rule() -> None:
    unseen = assemble("77", None, "77", [], retention_days=30)
    assert unseen.verdict.kind is VerdictKind.not_seen
    assert "30 dias" in unseen.verdict.summary_pt and unseen.steps == ()
    checked = StoryStep(
        None, "checked", "lida agora", "read now", {"code": "status", "state": "not_finished"}
    )
    story = assemble("77", "auvo.task", "77", [], checked=checked)
    assert story.verdict.kind is VerdictKind.left_out and story.verdict.reason_code == "status"
    assert "Status das tarefas" in story.verdict.summary_pt and "verificado agora" in story.verdict.summary_pt


def test_a_customer_links_its_contato_and_a_contato_its_customer() -> None:
    row = HistoryRow(
        "auvo.customer",
        "5",
        Kind.handled,
        "created",
        "e",
        "v",
        {"bling_id": "123", "link_entity": "customer"},
    )
    story = assemble("5", "auvo.customer", "5", [row], [Link("customer", "bling", "123")])
    assert story.verdict.kind is VerdictKind.integrated
    assert story.verdict.written[0].link is not None
    assert story.verdict.written[0].link.url == "https://www.bling.com.br/contatos.php#edit/123"
    assert story.source_link is not None and story.source_link.guessed  # Auvo's customer page: a guess
    contato = assemble("123", "bling.contato", "123", [], [Link("customer", "auvo", "5")])
    assert contato.verdict.written[0].system == "auvo"
    assert contato.source_link is not None and contato.source_link.url.endswith("contatos.php#edit/123")


def test_english_text_and_json_form() -> None:
    story = assemble("77", "auvo.task", "77", [left_out("task_type", 0, task_type=3)])
    text = "\n".join(story_lines(story, "en"))
    assert "LEFT OUT: Left out by the rule 'task type'" in text and "task type" in text and "Next:" in text
    data = story.to_dict()
    assert data["verdict"]["kind"] == "left_out" and data["steps"][0]["at"] == T0.isoformat()


@pytest.mark.parametrize(
    ("query", "document"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        ("11.444.777/0001-61", "11444777000161"),
        ("12345", None),
        ("abc52998224725", None),
    ],
)
def test_a_cpf_or_cnpj_formatted_or_not(query: str, document: str | None) -> None:
    assert document_of(query) == document
