"""What every handler shares: the idempotency gate, staleness, the entity lock and the commit.

A handler's own code is then only its decision and its write. The order matters: the
processed-event check is made *inside* the entity lock, so two consumers that received the
same event at once cannot both write; and the id map, fingerprint, applied version and processed
mark are committed in one transaction after the write, so a crash before the commit replays the
event and a crash after it makes the replay a no-op.

The store's round trips per event are budgeted (at most 4 on the common path, counted by
tests/unit/test_store_round_trips.py): the lock, one read of the entity's state (`EntityState`,
trusted for the rest of the event since only the lock's holder changes it), the write intent of
a create, and the commit, which also releases a SQLite lease.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Connection

from contracts.envelope import Envelope
from infra.bling.tokens import process_owner
from infra.errors import EntityBusy, IntegrationError
from infra.store import EntityState, HistoryRow, LockHold, StateReads, Store
from infra.store.history import SUBJECT_OF_EVENT, SUBJECT_OF_LINK, Kind

# Outcomes a handler returns (the runner counts them).
# A create the client gave up on (timeout) may still land in Bling. Until twice the client's timeout
# plus this margin has passed since it was sent, "not found" does not prove it never happened.
LATE_CREATE_MARGIN_SECONDS = 5.0

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
DUPLICATE = "skipped_duplicate"
STALE = "skipped_stale"
ECHO = "skipped_echo"
LINKED = "linked"
CONFLICT_AUVO_WON = "conflict_auvo_won"  # both sides changed; Auvo's change was newer
CONFLICT_BLING_WON = "conflict_bling_won"  # both sides changed; Bling's change was newer


@dataclass
class Outcome:
    """What a handler's apply step did, recorded atomically by `commit`."""

    result: str
    link: tuple[str, str, str] | None = None  # (entity, auvo_id, bling_id)
    fingerprints: list[tuple[str, str, str, str]] = field(default_factory=list)  # (system, entity, id, fp)
    # (consumer, entity id, version): states of the other side this write already took into
    # account, so that consumer drops events older than them as stale
    versions: list[tuple[str, str, str]] = field(default_factory=list)
    # (namespace, intent id): write intents other than the record's own that this write answered
    # (a pedido's, kept under its record kind); cleared in the same commit, so a lost commit
    # leaves the create in doubt (looked up by its marker) instead of forgotten
    answered_intents: list[tuple[str, str]] = field(default_factory=list)


def refuse_while_create_in_doubt(noted_at: datetime | None, client_timeout: float, what: str) -> None:
    """Raise EntityBusy (retry later) while an unanswered create of `what` may still land.

    `noted_at`: when that create was noted (`Store.note_intent`, just before sending it) and not
    cleared since. Without this, a second event needing the same record (a task of a customer
    whose contato create timed out) looks it up before the late create lands and creates another.
    """
    if noted_at is None:
        return
    window = 2 * client_timeout + LATE_CREATE_MARGIN_SECONDS
    age = (datetime.now(UTC) - noted_at).total_seconds()
    if age < window:
        raise EntityBusy(
            f"an earlier create of {what} got no answer {age:.1f}s ago and may still land in Bling; "
            f"retried after {window:.0f}s",
            retry_after=window - age,
        )


T = TypeVar("T")
# an HTTP answer that still leaves the outcome open: a gateway that gave up waiting for Bling
IN_DOUBT_STATUSES = frozenset({504})


def noted_create(store: Store, tenant: str, consumer: str, intent_id: str, create: Callable[[], T]) -> T:
    """Send a create with its intent noted, so an unanswered one is waited for (see above).

    An answer that says it failed (a 4xx, a 5xx other than 504, a 429), or a request our own daily
    budget refused before sending it, proves nothing was created: the intent is cleared at once and
    the retry looks up and creates without waiting. Only no answer at all (timeout, connection
    lost) or a gateway timeout leaves the create in doubt.
    """
    store.note_intent(tenant, consumer, intent_id)
    try:
        return create()
    except IntegrationError as exc:
        answered = exc.http_status is not None and exc.http_status not in IN_DOUBT_STATUSES
        if answered or getattr(exc, "never_sent", False):  # e.g. refused by the daily budget
            with store.transaction() as conn:
                store.clear_intent(conn, tenant, consumer, intent_id)
        raise


def client_timeout(client: object, default: float = 15.0) -> float:
    """The API client's request timeout (how late a given-up create may still land, roughly)."""
    value = getattr(client, "timeout", None)
    return float(value) if isinstance(value, int | float) else default


# The entity state read when the current event's handling began (per thread: handlers run in a pool).
_event_state: ContextVar[tuple[str, EntityState] | None] = ContextVar("event_state", default=None)


class HandlerBase:
    """Shared mechanics; subclasses implement `apply(envelope) -> Outcome` inside the lock.

    `record` names the kind of target record the handler writes ("bling.contato"), not the queue
    it reads: the entity lock and the write intent of a record are keyed by it, so every writer of
    that record (its consumer, the backfill, a flow that needs it on demand) excludes the others
    whatever queue or command it runs from. A handler without one keys them by its consumer.
    """

    consumer: str = ""
    record: str = ""
    # the id map entity whose link and fingerprints the event's state read brings along ("customer")
    link_entity: str = ""

    def __init__(self, store: Store, *, lock_wait_seconds: float = 10.0) -> None:
        self.store = store
        self.lock_wait_seconds = lock_wait_seconds

    @property
    def writes(self) -> str:
        """The name the record's locks and intents are kept under."""
        return self.record or self.consumer

    def record_lock(self, tenant: str, entity_id: str | int) -> str:
        return f"{tenant}:{self.writes}:{entity_id}"

    def lock_key(self, envelope: Envelope) -> str:
        return self.record_lock(envelope.tenant, envelope.entity_id)

    def __call__(self, envelope: Envelope) -> str:
        # no processed check before the lock: a redelivery is rare, and it would cost every event
        with self.entity_lock(self.lock_key(envelope)) as hold:
            state = self.store.entity_state(
                envelope.tenant,
                self.consumer,
                envelope.event_id,
                envelope.entity_id,
                writes=self.writes,
                link_entity=self.link_entity,
                also=self.state_reads(envelope),
            )
            if state.processed:
                return DUPLICATE
            applied = state.applied_version
            if applied is not None and envelope.entity_version and envelope.entity_version < applied:
                self.commit(envelope, Outcome(STALE), record_version=False, hold=hold)
                return STALE
            token = _event_state.set((self._state_key(envelope.tenant, envelope.entity_id), state))
            try:
                outcome = self.apply(envelope)
            finally:
                _event_state.reset(token)
            self.commit(envelope, outcome, hold=hold)
            return outcome.result

    def state_reads(self, envelope: Envelope) -> StateReads | None:
        """More rows the event's state read should bring along (`EntityState.also`): a handler whose
        write reads other records' rows (a pedido: its contato's and produtos' links) names them
        here, so they cost no round trip of their own. Called under the lock, before the processed
        check: it must not raise (a malformed payload: None, and `apply` says what is wrong)."""
        return None

    def known_state(self, tenant: str, entity_id: str) -> EntityState | None:
        """The state read when the current event began, if it is of this entity (else None: ask
        the store; a write on demand or planned by the backfill has no event state)."""
        current = _event_state.get()
        if current is None or current[0] != self._state_key(tenant, entity_id):
            return None
        return current[1]

    def _state_key(self, tenant: str, entity_id: str) -> str:
        """Whose state it is: a pedido's handler asking for its task's id must never be answered
        by the contato writer it calls for a customer that happens to share the number."""
        return f"{self.consumer}:{tenant}:{entity_id}"

    def intent_noted_at(self, tenant: str, entity_id: str) -> datetime | None:
        """When an unanswered create of this record was noted (see `refuse_while_create_in_doubt`)."""
        state = self.known_state(tenant, entity_id)
        if state is not None:
            return state.intent_noted_at
        return self.store.intent_noted_at(tenant, self.writes, entity_id)

    def apply(self, envelope: Envelope) -> Outcome:
        raise NotImplementedError

    @contextlib.contextmanager
    def entity_lock(self, key: str) -> Iterator[LockHold]:
        with self.store.lock(
            key, process_owner(), ttl_seconds=120.0, wait_seconds=self.lock_wait_seconds
        ) as hold:
            if not hold:
                raise EntityBusy(f"entity {key} is locked by another consumer")
            yield hold

    def commit(
        self,
        envelope: Envelope,
        outcome: Outcome,
        *,
        record_version: bool = True,
        hold: LockHold | None = None,
    ) -> None:
        """Record the event's outcome in one transaction; with `hold`, the entity lock is
        released in it too (SQLite), so the event spends no transaction of its own on that."""
        tenant = envelope.tenant
        with self.store.transaction() as conn:
            self._record(conn, envelope, outcome)
            self.store.clear_intent(conn, tenant, self.writes, envelope.entity_id)
            for namespace, intent_id in outcome.answered_intents:
                self.store.clear_intent(conn, tenant, namespace, intent_id)
            if record_version and envelope.entity_version:
                self.store.set_applied_version(
                    conn, tenant, self.consumer, envelope.entity_id, envelope.entity_version
                )
            for consumer, entity_id, version in outcome.versions:
                self.store.set_applied_version(conn, tenant, consumer, entity_id, version)
            self.store.mark_processed(conn, tenant, self.consumer, envelope.event_id, outcome.result)
            self.store.bump(conn, tenant, f"{self.consumer}.{outcome.result}")
            # the record's story, in the same transaction: no round trip of its own
            self.store.add_history(conn, tenant, [self._handled_row(envelope, outcome)])
            if hold is not None:
                self.store.release_with(conn, hold)
        if hold is not None:
            hold.released = True

    def write_locked(
        self, tenant: str, entity_id: str, write: Callable[[], Outcome], *, counter: str
    ) -> Outcome:
        """A write outside an event (planned by the backfill): `write()` under the record's entity
        lock, then `commit_write`, so it excludes the consumer's own writes of that record."""
        with self.entity_lock(self.record_lock(tenant, entity_id)):
            outcome = write()
            self.commit_write(tenant, entity_id, outcome, counter=counter)
            return outcome

    def commit_write(self, tenant: str, entity_id: str, outcome: Outcome, *, counter: str) -> None:
        """Record a write made outside an event (on demand, or planned by the backfill): the same
        link, fingerprints, versions and intent clearing as `commit`, in one transaction, counted
        under `counter` instead of marking an event processed."""
        with self.store.transaction() as conn:
            self.record_links(conn, tenant, outcome)
            self.store.clear_intent(conn, tenant, self.writes, entity_id)
            for namespace, intent_id in outcome.answered_intents:
                self.store.clear_intent(conn, tenant, namespace, intent_id)
            for consumer, other_id, version in outcome.versions:
                self.store.set_applied_version(conn, tenant, consumer, other_id, version)
            self.store.bump(conn, tenant, f"{counter}.{outcome.result}")
            written = written_row(outcome, counter)
            if written is not None:
                self.store.add_history(conn, tenant, [written])

    def _handled_row(self, envelope: Envelope, outcome: Outcome) -> HistoryRow:
        details: dict[str, str] = {"flow": self.consumer}
        if outcome.link is not None:
            details.update(link_entity=outcome.link[0], auvo_id=outcome.link[1], bling_id=outcome.link[2])
        return HistoryRow(
            SUBJECT_OF_EVENT.get(envelope.type, envelope.type),
            envelope.entity_id,
            Kind.handled,
            outcome.result,
            envelope.event_id,
            envelope.entity_version or None,
            details,
        )

    def _record(self, conn: Connection, envelope: Envelope, outcome: Outcome) -> None:
        self.record_links(conn, envelope.tenant, outcome)

    def record_links(self, conn: Connection, tenant: str, outcome: Outcome) -> None:
        """The id map link and fingerprints of an outcome (also used for writes made on demand,
        such as a contato created because a pedido needs it)."""
        if outcome.link is not None:
            entity, auvo_id, bling_id = outcome.link
            self.store.link(conn, tenant, entity, auvo_id, bling_id)
        for system, entity, entity_id, fp in outcome.fingerprints:
            self.store.set_fingerprint(conn, tenant, system, entity, entity_id, fp)


def written_row(outcome: Outcome, counter: str) -> HistoryRow | None:
    """The history row of a write made outside an event, told on the Auvo record it links (a
    contato created because a pedido needed it belongs to that customer's story)."""
    if outcome.link is None:
        return None
    entity, auvo_id, bling_id = outcome.link
    subject = SUBJECT_OF_LINK.get(entity)
    if subject is None:
        return None
    details = {"flow": counter, "link_entity": entity, "auvo_id": auvo_id, "bling_id": bling_id}
    return HistoryRow(subject, auvo_id, Kind.written, outcome.result, details=details)


Handler = Callable[[Envelope], str]
