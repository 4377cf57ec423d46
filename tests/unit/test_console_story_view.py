"""The words the "Por que não integrou?" page shows for a Story (auvo_bling/console/story_pages.py)."""

from __future__ import annotations

from auvo_bling.console.story_pages import StoryView
from auvo_bling.story import Story, Verdict, VerdictKind


def _story(verdict: Verdict, **fields: object) -> Story:
    return Story("42", "auvo.task", "42", (), verdict, "faça isto", "do this", **fields)  # type: ignore[arg-type]


def test_the_rule_is_named_only_when_a_rule_left_the_record_out() -> None:
    left_out = _story(Verdict(VerdictKind.left_out, "fora", "out", "customer_group"))
    assert StoryView(left_out, en=False).rule == "Grupo de clientes"
    assert StoryView(left_out, en=True).rule == "customer group"
    failed = _story(Verdict(VerdictKind.failed, "falhou", "failed", "ApiRejected"))
    assert StoryView(failed, en=False).rule is None  # a dead letter's code is an error class, not a rule


def test_labels_and_others_follow_the_language() -> None:
    story = _story(Verdict(VerdictKind.left_out, "fora", "out", "status"), others=(("auvo.customer", "42"),))
    pt, en = StoryView(story, en=False), StoryView(story, en=True)
    assert (pt.subject_label, pt.verdict_label) == ("Tarefa do Auvo", "NÃO INTEGRADO")
    assert pt.next_step == "faça isto"
    assert (en.subject_label, en.verdict_label, en.next_step) == ("Auvo task", "LEFT OUT", "do this")
    assert pt.others() == [("auvo.customer", "42", "Cliente do Auvo")]
    assert en.others() == [("auvo.customer", "42", "Auvo customer")]
