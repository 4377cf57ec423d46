"""The store: the dead-letter index, so the Falhas page and `dlq groups` never read the broker.

One row per (tenant, consumer, dead letter id). The runner writes it right after the dead letter's
publish was confirmed; `dlq reindex` (and every `dlq list`) reconciles it with the queue, which is
how a letter the *broker* dead-lettered (delivery limit: none of our headers, no runner involved)
gets its row. Reading here never touches the queue; replay still takes its messages from the queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from infra.store.base import StoreBase, utcnow
from infra.store.tables import dead_letters, dlq_operations


class LetterState(StrEnum):
    dead = "dead"  # in the DLQ
    replayed = "replayed"  # republished to its consumer (and gone from the DLQ)
    parked = "parked"  # out of the DLQ, its message kept in the store until parked_until
    purged = "purged"  # gone for good (purged, or no longer found in the queue by a reindex)


@dataclass(frozen=True)
class DeadLetterEntry:
    """What the index keeps of one dead letter; `message` is its export record (body and headers)."""

    tenant: str
    consumer: str
    letter_id: str
    event_type: str
    entity_id: str
    error_class: str
    fingerprint: str
    error_message: str
    hint: str
    attempts: int
    seen_at: datetime
    replay_count: int = 0
    message: str | None = None
    replay_operation: int | None = None  # the replay whose copy this is (not stored: counted there)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.tenant, self.consumer, self.letter_id)

    def values(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant[:64],
            "consumer": self.consumer[:100],
            "letter_id": self.letter_id[:100],
            "event_type": self.event_type[:64],
            "entity_id": self.entity_id[:64],
            "error_class": self.error_class[:64],
            "fingerprint": self.fingerprint,
            "error_message": self.error_message[:500],
            "hint": self.hint[:500],
            "attempts": self.attempts,
            "first_seen": self.seen_at,
            "last_seen": self.seen_at,
            "replay_count": self.replay_count,
            "state": LetterState.dead.value,
            "parked_until": None,
            "message": self.message,
        }


@dataclass(frozen=True)
class IndexQuery:
    """Which index rows a page or command is about; every given criterion must hold (AND)."""

    state: str = LetterState.dead.value
    tenant: str | None = None
    fingerprint: str | None = None
    event_type: str | None = None
    error_class: str | None = None
    seen_before: datetime | None = None  # older than an age
    seen_after: datetime | None = None  # newer than an age
    text: str | None = None  # in the diagnosis, hint, entity id or letter id

    def where(self) -> list[ColumnElement[bool]]:
        c = dead_letters.c
        clauses: list[ColumnElement[bool]] = [c.state == self.state]
        for column, value in (
            (c.tenant, self.tenant),
            (c.fingerprint, self.fingerprint),
            (c.event_type, self.event_type),
            (c.error_class, self.error_class),
        ):
            if value:
                clauses.append(column == value)
        if self.seen_before is not None:
            clauses.append(c.last_seen < self.seen_before)
        if self.seen_after is not None:
            clauses.append(c.last_seen >= self.seen_after)
        if self.text:
            like = f"%{self.text.lower()}%"
            clauses.append(
                or_(
                    func.lower(c.error_message).like(like),
                    func.lower(c.hint).like(like),
                    func.lower(c.entity_id).like(like),
                    func.lower(c.letter_id).like(like),
                )
            )
        return clauses


@dataclass(frozen=True)
class FailureGroup:
    """One cause: how many letters, since when, the hint, and the companies it touches."""

    fingerprint: str
    error_class: str
    consumer: str
    event_type: str
    count: int
    first_seen: datetime
    last_seen: datetime
    hint: str
    example: str
    tenants: tuple[str, ...]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class DeadLetters(StoreBase):
    def index_dead_letters(self, entries: Sequence[DeadLetterEntry]) -> None:
        """Upsert rows as `dead`: a letter seen again keeps its first_seen and takes the rest."""
        if not entries:
            return
        with self.transaction() as conn:
            self._index(conn, entries)
            for entry in entries:
                if entry.replay_operation is not None:  # a replayed copy failed again
                    conn.execute(
                        update(dlq_operations)
                        .where(dlq_operations.c.id == entry.replay_operation)
                        .values(failed_again=dlq_operations.c.failed_again + 1)
                    )

    def _index(self, conn: Connection, entries: Sequence[DeadLetterEntry]) -> None:
        stmt = self._insert(dead_letters)
        keep = {"tenant", "consumer", "letter_id", "first_seen"}
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant", "consumer", "letter_id"],
            set_={c.name: stmt.excluded[c.name] for c in dead_letters.c if c.name not in keep},
        )
        unique = {e.key: e.values() for e in entries}  # one statement may not touch a row twice
        conn.execute(stmt, list(unique.values()))

    def reconcile_dead_letters(
        self, entries: Sequence[DeadLetterEntry], *, scan_started: datetime, tenant: str | None = None
    ) -> int:
        """Index what a full pass over the queue saw; a `dead` row it did not see and that was last
        seen before the pass began has left the queue some other way: `purged`. Returns that count."""
        seen = {e.key for e in entries}
        with self.transaction() as conn:
            for start in range(0, len(entries), 1000):
                self._index(conn, entries[start : start + 1000])
            c = dead_letters.c
            clauses = [c.state == LetterState.dead.value, c.last_seen < scan_started]
            if tenant is not None:
                clauses.append(c.tenant == tenant)
            stale = [
                tuple(r)
                for r in conn.execute(select(c.tenant, c.consumer, c.letter_id).where(and_(*clauses)))
                if tuple(r) not in seen
            ]
            self._set_state(conn, stale, LetterState.purged)
        return len(stale)

    def mark_dead_letters(
        self,
        keys: Iterable[tuple[str, str, str]],
        state: LetterState,
        *,
        parked_until: datetime | None = None,
    ) -> None:
        """After the broker confirmed the action: replayed (+1 replay), parked (until), purged, dead."""
        with self.transaction() as conn:
            self._set_state(conn, list(keys), state, parked_until=parked_until)

    def _set_state(
        self,
        conn: Connection,
        keys: list[tuple[str, str, str]],
        state: LetterState,
        *,
        parked_until: datetime | None = None,
    ) -> None:
        c = dead_letters.c
        values: dict[str, Any] = {"state": state.value, "parked_until": parked_until}
        if state is LetterState.purged:
            values["message"] = None  # gone for good: its body is not kept either
        if state is LetterState.replayed:
            values["replay_count"] = c.replay_count + 1
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            conn.execute(
                update(dead_letters)
                .where(tuple_(c.tenant, c.consumer, c.letter_id).in_(chunk))
                .values(**values)
            )

    # --- reading ------------------------------------------------------------------------------------

    def failure_groups(self, query: IndexQuery | None = None, *, limit: int = 200) -> list[FailureGroup]:
        """The groups by cause, largest first: one grouped query by (fingerprint, tenant)."""
        query = query or IndexQuery()
        c = dead_letters.c
        stmt = (
            select(
                c.fingerprint,
                c.tenant,
                func.count().label("n"),
                func.min(c.first_seen).label("first_seen"),
                func.max(c.last_seen).label("last_seen"),
                func.max(c.error_class).label("error_class"),
                func.max(c.consumer).label("consumer"),
                func.max(c.event_type).label("event_type"),
                func.max(c.hint).label("hint"),
                func.max(c.error_message).label("example"),
            )
            .where(and_(*query.where()))
            .group_by(c.fingerprint, c.tenant)
        )
        merged: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(stmt):
                g = merged.setdefault(
                    r.fingerprint,
                    {
                        "fingerprint": r.fingerprint,
                        "error_class": r.error_class,
                        "consumer": r.consumer,
                        "event_type": r.event_type,
                        "count": 0,
                        "first_seen": _aware(r.first_seen),
                        "last_seen": _aware(r.last_seen),
                        "hint": r.hint,
                        "example": r.example,
                        "tenants": [],
                    },
                )
                g["count"] += int(r.n)
                g["first_seen"] = min(g["first_seen"], _aware(r.first_seen))
                g["last_seen"] = max(g["last_seen"], _aware(r.last_seen))
                g["tenants"].append(r.tenant)
        groups = [FailureGroup(**{**g, "tenants": tuple(sorted(g["tenants"]))}) for g in merged.values()]
        groups.sort(key=lambda g: (-g.count, g.fingerprint))
        return groups[:limit]

    def count_dead_letters(self, query: IndexQuery | None = None) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(dead_letters)
                    .where(and_(*(query or IndexQuery()).where()))
                ).scalar_one()
            )

    def dead_letters_of(
        self, query: IndexQuery | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Index rows, newest first (without their message)."""
        c = dead_letters.c
        columns = [col for col in dead_letters.c if col.name != "message"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*columns)
                .where(and_(*(query or IndexQuery()).where()))
                .order_by(c.last_seen.desc(), c.letter_id)
                .limit(limit)
                .offset(offset)
            )
            return [self._plain(r._mapping) for r in rows]

    def dead_letter_row(self, tenant: str, consumer: str, letter_id: str) -> dict[str, Any] | None:
        """One row with its message (body and headers as the queue held them)."""
        c = dead_letters.c
        with self.engine.connect() as conn:
            r = conn.execute(
                select(dead_letters).where(
                    c.tenant == tenant, c.consumer == consumer, c.letter_id == letter_id
                )
            ).first()
        return None if r is None else self._plain(r._mapping)

    def dead_letter_keys(self, query: IndexQuery, *, limit: int | None = None) -> list[tuple[str, str, str]]:
        """The keys a selection names: what an operation will look for in the queue."""
        c = dead_letters.c
        stmt = select(c.tenant, c.consumer, c.letter_id).where(and_(*query.where()))
        if limit is not None:
            stmt = stmt.order_by(c.last_seen).limit(limit)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(stmt)]

    def dead_letter_messages(self, keys: list[tuple[str, str, str]]) -> list[str]:
        """The stored messages of these rows (restore puts them back into the queue)."""
        c = dead_letters.c
        out: list[str] = []
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                rows = conn.execute(
                    select(c.message).where(
                        tuple_(c.tenant, c.consumer, c.letter_id).in_(keys[start : start + 500]),
                        c.message.is_not(None),
                    )
                )
                out.extend(r.message for r in rows)
        return out

    def expired_parked(self, now: datetime | None = None) -> list[tuple[str, str, str]]:
        """Parked letters past their retention (the park retention pass purges them)."""
        c = dead_letters.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.tenant, c.consumer, c.letter_id).where(
                    c.state == LetterState.parked.value, c.parked_until < (now or utcnow())
                )
            )
            return [tuple(r) for r in rows]

    @staticmethod
    def _plain(mapping: Any) -> dict[str, Any]:
        row = dict(mapping)
        for key in ("first_seen", "last_seen", "parked_until"):
            if row.get(key) is not None:
                row[key] = _aware(row[key])
        return row
