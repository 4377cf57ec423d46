"""A dead letter as a row of the store's index, and the pass that reconciles the index with the queue.

The runner indexes each letter it dead-letters; the broker's own dead letters (delivery limit)
carry none of our headers and pass no runner, so they are indexed by `reconcile`: one full pass over
the queue (messages held briefly with basic.get, every one returned on close, as every DlqSession
read does) run by `dlq reindex` and after every `dlq list`. A periodic caller may run it too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from infra.bus.dlq_records import REPLAY_OPERATION, DeadLetter
from infra.store.dead_letters import DeadLetterEntry

if TYPE_CHECKING:
    from infra.bus.dlq import DlqSession, Progress
    from infra.store import Store


class DeadLetterIndex(Protocol):
    """Where the runner writes the index row of each dead letter (the Store)."""

    def index_dead_letters(self, entries: list[DeadLetterEntry]) -> None: ...


def entry_of(letter: DeadLetter, *, tenant: str = "default", now: datetime | None = None) -> DeadLetterEntry:
    """The index row of a dead letter; `tenant` is for a body without an envelope."""
    operation = letter.headers.get(REPLAY_OPERATION)
    return DeadLetterEntry(
        tenant=letter.tenant or tenant,
        consumer=letter.consumer,
        letter_id=letter.id,
        event_type=letter.event_type,
        entity_id=letter.entity_id,
        error_class=letter.error_class,
        fingerprint=letter.fingerprint,
        error_message=letter.error_message,
        hint=letter.hint,
        attempts=letter.attempts,
        seen_at=letter.dead_lettered_at or now or datetime.now(UTC),
        replay_count=letter.replay_count,
        message=json.dumps(letter.to_export(), ensure_ascii=False, sort_keys=True),
        replay_operation=_int(operation),
    )


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def reconcile(
    session: DlqSession, index: Store, *, tenant: str, progress: Progress | None = None
) -> tuple[int, int]:
    """One full pass over the queue into the index: (letters seen, rows found gone from the queue)."""
    started = datetime.now(UTC)
    entries = [entry_of(h.letter, tenant=tenant, now=started) for h in session.scan(progress=progress)]
    entries = [replace(e, replay_operation=None) for e in entries]  # counted when it came back, not here
    gone = index.reconcile_dead_letters(entries, scan_started=started, tenant=tenant)
    return len(entries), gone
