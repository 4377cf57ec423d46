"""A story as plain text lines, in pt-BR (default) or English: what `auvo-bling why` prints."""

from __future__ import annotations

from auvo_bling.story.model import Story, VerdictKind, WebLink

SUBJECT_LABELS = {
    "auvo.task": ("Tarefa do Auvo", "Auvo task"),
    "auvo.quotation": ("Orçamento do Auvo", "Auvo quotation"),
    "auvo.customer": ("Cliente do Auvo", "Auvo customer"),
    "bling.contato": ("Contato do Bling", "Bling contato"),
    "auvo.expense": ("Despesa do Auvo", "Auvo expense"),
}
VERDICT_LABELS = {
    VerdictKind.integrated: ("INTEGRADO", "INTEGRATED"),
    VerdictKind.left_out: ("NÃO INTEGRADO", "LEFT OUT"),
    VerdictKind.failed: ("FALHOU", "FAILED"),
    VerdictKind.pending: ("EM ANDAMENTO", "IN PROGRESS"),
    VerdictKind.not_seen: ("NÃO VISTO", "NOT SEEN"),
}


def _link(link: WebLink | None, en: bool) -> str:
    if link is None:
        return ""
    guessed = (" (endereço presumido)" if not en else " (guessed address)") if link.guessed else ""
    return f"  {link.url}{guessed}"


def story_lines(story: Story, lang: str = "pt") -> list[str]:
    en = lang == "en"
    pick = 1 if en else 0
    label = SUBJECT_LABELS.get(story.subject or "", ("Registro", "Record"))[pick]
    lines = [f"{label} {story.entity_id or story.query}{_link(story.source_link, en)}"]
    lines.append(f"{VERDICT_LABELS[story.verdict.kind][pick]}: {story.summary(lang)}")
    for written in story.verdict.written:
        what = written.what_en if en else written.what_pt
        lines.append(f"  {what} {written.record_id}{_link(written.link, en)}")
    diag = story.verdict.diagnosis
    if diag:
        if diag.get("hint"):
            lines.append(f"  {'hint' if en else 'dica'}: {diag['hint']}")
        for field in diag.get("field_errors") or []:
            text = f"{field.get('element')}: {field.get('msg')}" if isinstance(field, dict) else str(field)
            lines.append(f"  {'field' if en else 'campo'}: {text}")
    lines.append("")
    lines.append("History:" if en else "Histórico:")
    if not story.steps:
        lines.append("  (nothing recorded)" if en else "  (nada registrado)")
    for step in story.steps:
        at = step.at.strftime("%Y-%m-%d %H:%M:%S") if step.at else "agora" if not en else "now"
        lines.append(f"  {at}  {step.summary_en if en else step.summary_pt}")
    if story.next_step(lang):
        lines.append("")
        lines.append(f"{'Next' if en else 'Próximo passo'}: {story.next_step(lang)}")
    if story.others:
        also = ", ".join(f"{SUBJECT_LABELS.get(s, (s, s))[pick].lower()} {i}" for s, i in story.others)
        lines.append(f"{'Also matches' if en else 'Também corresponde a'}: {also} (--subject)")
    return lines
