"""The Auvo keyword ids that show a job's outcome, per state (settings `tasks.keyword_*`).

A configured id is used as is (checked against Auvo at start: auvo_bling/option_checks.py). A
state left empty gets the keyword whose description is the default one (`Pedido atendido`, ...),
found in Auvo's `/keywords/` or created once there: a company can switch the flow on without
first creating keywords by hand, and a restart finds the same keyword instead of adding another.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from consumers.sales.outcome import DEFAULT_KEYWORDS, JobOutcome


class AuvoKeywords(Protocol):
    def iter_keywords(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...
    def create_keyword(self, description: str) -> dict[str, Any]: ...


def configured_keywords(tasks: Any) -> dict[JobOutcome, int | None]:
    """The keyword ids the settings' task section names, by state (None: use the default)."""
    return {
        JobOutcome.attended: tasks.keyword_attended,
        JobOutcome.cancelled: tasks.keyword_cancelled,
        JobOutcome.invoiced: tasks.keyword_invoiced,
    }


class OutcomeKeywords:
    """Resolves the keyword ids once per process (a few Auvo requests), then answers from memory."""

    def __init__(self, auvo: AuvoKeywords, configured: Mapping[JobOutcome, int | None]) -> None:
        self.auvo = auvo
        self.configured = dict(configured)
        self._ids: dict[JobOutcome, str] | None = None
        self._lock = threading.Lock()

    def ids(self) -> dict[JobOutcome, str]:
        with self._lock:
            if self._ids is None:
                self._ids = self._resolve()
            return dict(self._ids)

    def _resolve(self) -> dict[JobOutcome, str]:
        ids = {state: str(kid) for state, kid in self.configured.items() if kid is not None}
        missing = [state for state in JobOutcome if state not in ids]
        if not missing:
            return ids
        by_description = {
            str(k.get("description") or "").strip().casefold(): str(k["id"])
            for k in self.auvo.iter_keywords()
            if k.get("id") is not None
        }
        for state in missing:
            description = DEFAULT_KEYWORDS[state]
            found = by_description.get(description.casefold())
            if found is None:
                found = str(self.auvo.create_keyword(description)["id"])
            ids[state] = found
        return ids
