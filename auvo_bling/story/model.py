"""A record's story: what it is made of, with no I/O and no HTML (the CLI prints it, the console
renders it, `--json` dumps it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class VerdictKind(StrEnum):
    integrated = "integrated"  # the record exists on the other side (links to it)
    left_out = "left_out"  # a rule of the options (or the deletion policy) keeps it out
    failed = "failed"  # dead-lettered: a person must act (diagnosis and hint)
    pending = "pending"  # published and not handled yet, or retrying after a transient failure
    not_seen = "not_seen"  # nothing about it in the store (within the retention)


@dataclass(frozen=True)
class WebLink:
    url: str
    guessed: bool = False  # True: the web app's URL pattern is our guess, not seen in public use


@dataclass(frozen=True)
class WrittenRecord:
    """A record the integration wrote (or linked) on the other side."""

    system: str  # "bling" or "auvo"
    what_pt: str
    what_en: str
    record_id: str
    link: WebLink | None = None


@dataclass(frozen=True)
class StoryStep:
    at: datetime | None
    kind: str  # infra.store.history.Kind, or "checked" (read from Auvo just now)
    summary_pt: str
    summary_en: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    summary_pt: str
    summary_en: str
    reason_code: str | None = None  # left out: the rule (producers.selection_reasons) or outcome
    written: tuple[WrittenRecord, ...] = ()
    diagnosis: dict[str, Any] | None = None  # failed / retrying: error class, message, hint, attempts


@dataclass(frozen=True)
class Story:
    query: str
    subject: str | None  # "auvo.task", "auvo.quotation", "auvo.customer", "bling.contato", ...
    entity_id: str | None
    steps: tuple[StoryStep, ...]
    verdict: Verdict
    next_step_pt: str
    next_step_en: str
    source_link: WebLink | None = None  # the record itself in its own web app
    others: tuple[tuple[str, str], ...] = ()  # other records the query also matches (subject, id)

    def summary(self, lang: str = "pt") -> str:
        return self.verdict.summary_en if lang == "en" else self.verdict.summary_pt

    def next_step(self, lang: str = "pt") -> str:
        return self.next_step_en if lang == "en" else self.next_step_pt

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for step in data["steps"]:
            step["at"] = step["at"].isoformat() if step["at"] else None
        return data
