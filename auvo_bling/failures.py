"""Failures: what the dead letters are and what people do about them, for the CLI and the console.

`auvo-bling dlq groups/replay --group/park/restore/reindex` and the console's Falhas page call this
one module, so a replay means the same everywhere. Reading goes to the store's index only; an
action names its letters through the index (a group, the selected ids, everything a filter
matches), then takes exactly those from the broker's queue, which stays the truth: a letter the
index names but the queue does not hand out (gone, or held by another operation at that moment) is
not acted on and is reported as not found; `dlq reindex` settles the index.

Every action is an operation row in the store (who, when, what, total, done, failed) advanced
while it runs; a replayed copy names its operation, so one that is dead-lettered again is counted
there ("failed again") and carries its replay count in its header and its index row.
Parking keeps the letter's message in the store (the index row already holds it) until the
retention ends, and takes it off the queue; restore puts it back into the queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from infra.bus.dlq import DlqError, DlqSession, Held
from infra.bus.dlq_index import reconcile
from infra.bus.dlq_records import DeadLetter, DeadLetterFilter
from infra.store import DlqOperation, IndexQuery, LetterState, Store

log = structlog.get_logger(__name__)

Key = tuple[str, str, str]  # (tenant, consumer, letter id): one index row
SessionFactory = Callable[[], DlqSession]
PROGRESS_EVERY_SECONDS = 0.5
DEFAULT_PARK_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Selection:
    """What an action is about, by the index: a filter (a group is a fingerprint) or chosen rows."""

    query: IndexQuery | None = None
    keys: tuple[Key, ...] = ()

    def describe(self) -> dict[str, Any]:
        if self.keys:
            return {"ids": [k[2] for k in self.keys][:50], "count": len(self.keys)}
        q = self.query or IndexQuery()
        return {k: v for k, v in q.__dict__.items() if v is not None and k != "state"}


class Failures:
    """One tenant's view of the failures, or every tenant's (tenant None) for reading."""

    def __init__(self, store: Store, sessions: SessionFactory, *, tenant: str) -> None:
        self.store = store
        self.sessions = sessions
        self.tenant = tenant

    # --- reading: the index only ------------------------------------------------------------------

    def keys_of(self, selection: Selection, state: LetterState = LetterState.dead) -> list[Key]:
        if selection.keys:
            return list(selection.keys)
        query = selection.query or IndexQuery()
        return self.store.dead_letter_keys(IndexQuery(**{**query.__dict__, "state": state.value}))

    def count(self, selection: Selection) -> int:
        """How many letters an action on this selection would touch (shown before confirming)."""
        if selection.keys:
            return len(selection.keys)
        return self.store.count_dead_letters(selection.query)

    # --- actions: an operation each ---------------------------------------------------------------

    def reindex(self, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Rebuild the index from the queue: (letters seen, rows no longer in the queue); parked
        letters past their retention are purged from the store on the way."""
        with self.sessions() as session:
            seen, gone = reconcile(session, self.store, tenant=self.tenant, progress=progress)
        self.store.mark_dead_letters(self.store.expired_parked(), LetterState.purged)
        return seen, gone

    def replay(self, selection: Selection, actor: str) -> DlqOperation:
        """Republish the selected letters to their consumers; each leaves the DLQ after its confirm."""
        return self._run("replay", selection, actor, self._replay_one, LetterState.replayed)

    def purge(self, selection: Selection, actor: str) -> DlqOperation:
        """Delete the selected letters for good (the caller confirmed the count)."""
        return self._run("purge", selection, actor, lambda s, h, op: s.remove(h), LetterState.purged)

    def park(
        self, selection: Selection, actor: str, *, retention: timedelta = DEFAULT_PARK_RETENTION
    ) -> DlqOperation:
        """Take the selected letters off the queue, kept in the store until the retention ends."""
        until = datetime.now(UTC) + retention
        return self._run(
            "park", selection, actor, lambda s, h, op: s.remove(h), LetterState.parked, parked_until=until
        )

    def restore(self, keys: list[Key], actor: str) -> DlqOperation:
        """Put parked letters back into the queue as they were (each publish confirmed)."""
        op_id = self.store.start_operation(
            "restore", actor, {"ids": [k[2] for k in keys][:50]}, len(keys), tenant=self.tenant
        )
        done = failed = 0
        with self.sessions() as session:
            for key in keys:
                messages = self.store.dead_letter_messages([key])
                try:
                    if not messages:
                        raise DlqError("no stored message")
                    session.put(DeadLetter.from_export(json.loads(messages[0])))
                except (DlqError, ValueError) as exc:
                    failed += 1
                    log.warning("could not restore a parked letter", event_id=key[2], error=str(exc))
                    continue
                self.store.mark_dead_letters([key], LetterState.dead)
                done += 1
        self.store.finish_operation(op_id, done=done, failed=failed)
        return self._operation(op_id)

    def _replay_one(self, session: DlqSession, held: Held, op_id: int) -> None:
        session.replay(held, operation=op_id)

    def _run(
        self,
        kind: str,
        selection: Selection,
        actor: str,
        act: Callable[[DlqSession, Held, int], None],
        state: LetterState,
        *,
        parked_until: datetime | None = None,
    ) -> DlqOperation:
        keys = self.keys_of(selection)
        wanted = {k[2]: k for k in keys}
        op_id = self.store.start_operation(kind, actor, selection.describe(), len(keys), tenant=self.tenant)
        done = failed = 0
        acted: list[Key] = []
        errors: list[str] = []
        last = time.monotonic()
        try:
            with self.sessions() as session:
                for held in self._held(session, wanted):
                    key = wanted.get(held.letter.id)
                    if key is None or key[1] != held.letter.consumer:
                        continue  # another consumer's copy of the same event: not selected, stays
                    del wanted[held.letter.id]
                    try:
                        if state is LetterState.parked:  # the store keeps it before the queue lets go
                            self.store.mark_dead_letters([key], state, parked_until=parked_until)
                        act(session, held, op_id)
                    except DlqError as exc:
                        failed += 1
                        errors.append(f"{held.letter.id}: {exc}")
                        if state is LetterState.parked:
                            self.store.mark_dead_letters([key], LetterState.dead)
                        continue
                    done += 1
                    acted.append(key)
                    if not wanted:
                        break
                    if time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
                        self._flush(acted, state, parked_until)
                        self.store.advance_operation(op_id, done=done, failed=failed)
                        last = time.monotonic()
                self._flush(acted, state, parked_until)
        except Exception as exc:
            self.store.finish_operation(op_id, done=done, failed=failed + len(wanted), detail=str(exc))
            raise
        if wanted:  # named by the index, not in the queue: gone, or held by another operation right
            # now; the index is left as it is (`dlq reindex` tells which), the operation says so
            failed += len(wanted)
            errors.append(f"{len(wanted)} not found in the queue (run `auvo-bling dlq reindex`)")
        self.store.finish_operation(op_id, done=done, failed=failed, detail="; ".join(errors[:20]) or None)
        log.info(f"dlq {kind} finished", operation=op_id, done=done, failed=failed, actor=actor)
        return self._operation(op_id)

    def _held(self, session: DlqSession, wanted: dict[str, Key]) -> Iterator[Held]:
        if not wanted:
            return iter(())
        return session.scan(DeadLetterFilter(exact_ids=frozenset(wanted)))

    def _flush(self, acted: list[Key], state: LetterState, parked_until: datetime | None) -> None:
        if acted and state is not LetterState.parked:
            self.store.mark_dead_letters(acted, state)
        acted.clear()

    def _operation(self, op_id: int) -> DlqOperation:
        operation = self.store.dlq_operation(op_id)
        assert operation is not None
        return operation


def failures_of(app: Any) -> Failures:
    """The Failures of an App (auvo_bling.wiring), on its settings' broker and topology."""
    return Failures(app.store, lambda: DlqSession(app.settings.amqp_url, app.topology), tenant=app.tenant)
