"""One backfill run: index both sides, link, write, then move the pollers' cursors past it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from auvo_bling.backfill.budget import plan_days, require_budget
from auvo_bling.backfill.index import SideIndex
from auvo_bling.backfill.progress import NoProgress, Progress
from auvo_bling.backfill.sides import (
    BUSY_ROUNDS,
    CHECKPOINT_EVERY,
    CONSUMER,
    ENTITY,
    LINK_BATCH,
    LOCK_TTL_SECONDS,
    PAGE_SIZE,
    PHASE_CURSOR,
    POSITION_CURSOR,
    STARTED_CURSOR,
    AuvoSide,
    BackfillBusy,
    BlingSide,
    JsonDict,
)
from auvo_bling.backfill.summary import BackfillSummary
from consumers.base import CREATED, UNCHANGED
from consumers.customers.auvo_customer_writer import BlingContactToAuvoCustomer
from consumers.customers.contato_writer import AuvoCustomerToBlingContact
from consumers.customers.matching import (
    Pair,
    Pairing,
    Rule,
    Verdict,
    Write,
    WriteKind,
    compare_pair,
    email_reads_wanted,
    pair_customers,
    plan_writes,
)
from contracts.events import BlingContact
from contracts.options import Direction
from infra.errors import (
    AmbiguousMatch,
    ApiRejected,
    BudgetReservedForWrites,
    DailyQuota,
    EntityBusy,
    IdMapConflict,
    NotFound,
    RateLimited,
    TransientError,
)
from infra.quota import spending
from infra.retry import doubling, retry_transient

T = TypeVar("T")

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from infra.bling.budget import DailyBudgetGuard
    from infra.store import Store


class Backfill:
    """One backfill run over injected clients and store (the CLI passes `app.auvo`/`app.bling`,
    whose throttles are the shared rate-limit buckets, so a running `consume` and the backfill
    together still stay under the quotas)."""

    def __init__(
        self,
        store: Store,
        auvo: AuvoSide,
        bling: BlingSide,
        *,
        tenant: str,
        direction: Direction,
        progress: Progress | None = None,
        max_email_reads: int = 1000,
        dry_run: bool = False,
        attempts: int = 5,
        backoff_seconds: float = 1.0,
        bling_quota_per_second: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        budget: DailyBudgetGuard | None = None,
    ) -> None:
        self.store = store
        # the tenant's daily Bling budget: checked before the run, ETA across days for the writes
        self.budget = budget
        self.auvo = auvo
        self.bling = bling
        self.tenant = tenant
        self.direction = Direction(direction)
        self.progress: Progress = progress or NoProgress()
        self.max_email_reads = max_email_reads
        self.dry_run = dry_run
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.clock = clock
        self.summary = BackfillSummary(
            direction=self.direction.value, dry_run=dry_run, bling_quota_per_second=bling_quota_per_second
        )
        self.index = SideIndex()
        self._read_ids: set[str] = set()  # contatos read in full this run
        self._written_ids: set[str] = set()  # ... and those of them a write used
        # the consumers' writers: a planned write excludes a live one on the same record
        self.contatos = AuvoCustomerToBlingContact(store, bling)
        self.customers = BlingContactToAuvoCustomer(store, auvo)
        self._requests_at_start = (bling.requests.value, auvo.requests.value)

    # --- orchestration ---------------------------------------------------------------------------

    def run(self) -> BackfillSummary:
        began = time.monotonic()
        try:
            with self._exclusive(), spending("backfill"):
                if self.budget is not None and not self.dry_run:
                    require_budget(self.budget)
                self._run()
        except KeyboardInterrupt:
            self.summary.interrupted = True
            raise
        finally:
            self.summary.seconds = round(time.monotonic() - began, 2)
            self._count_calls()
            self._finish_extra_reads()
            self.progress.finish()
        return self.summary

    def _run(self) -> None:
        started = self.clock().astimezone(UTC).replace(microsecond=0)
        phase = self.store.cursor(self.tenant, PHASE_CURSOR)
        if phase not in (None, "done"):
            position = self.store.cursor(self.tenant, POSITION_CURSOR) or ""
            self.summary.resumed_from = f"{phase} {position}".strip()
            self.progress.note(f"resuming: the last run stopped in {self.summary.resumed_from}")
        if not self.dry_run:
            self.store.set_cursor(self.tenant, STARTED_CURSOR, started.isoformat())

        self._checkpoint("index_auvo")
        with self._timed("index_auvo"):
            self._index_auvo()
        self._checkpoint("index_bling")
        with self._timed("index_bling"):
            self._index_bling()
        self._checkpoint("link")
        with self._timed("pair"):
            pairing, verdicts = self._pair()
        plan = plan_writes(pairing, verdicts, self.direction)
        self._count_plan(pairing, verdicts, plan)
        if self.budget is not None and plan:
            budget_plan = plan_days(self.budget, len(plan))
            self.summary.days_at_budget = budget_plan.days
            self.progress.note(budget_plan.line())
        if self.dry_run:
            return
        with self._timed("link"):
            self._link(pairing, verdicts)
        with self._timed("write"):
            self._write(plan)
        self._advance_poller_cursors(started)
        self._checkpoint("done")

    @contextmanager
    def _timed(self, phase: str) -> Iterator[None]:
        """Seconds and Bling calls per phase: the write phase's rate is the one the quota bounds."""
        self._count_calls()
        began, calls = time.monotonic(), self.summary.bling_calls
        try:
            yield
        finally:
            self._count_calls()
            self.summary.phases[phase] = {
                "seconds": round(time.monotonic() - began, 3),
                "bling_calls": self.summary.bling_calls - calls,
            }

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One backfill per tenant at a time: two would both create the same missing contatos."""
        from infra.bling.tokens import process_owner

        with self.store.lock(
            f"{self.tenant}:backfill", process_owner(), ttl_seconds=LOCK_TTL_SECONDS, wait_seconds=0
        ) as got:
            if not got:
                raise BackfillBusy(f"a backfill is already running for tenant {self.tenant!r}")
            yield

    def _checkpoint(self, phase: str, position: str | None = None) -> None:
        if self.dry_run:
            return
        self.store.set_cursor(self.tenant, PHASE_CURSOR, phase)
        if position is not None:
            self.store.set_cursor(self.tenant, POSITION_CURSOR, position)

    # --- calls: counted, throttled by the clients, transient failures retried -----------------------

    def _count_calls(self) -> None:
        """The requests the clients sent since the run began (reads, writes, lookups, retries)."""
        self.summary.bling_calls = self.bling.requests.value - self._requests_at_start[0]
        self.summary.auvo_calls = self.auvo.requests.value - self._requests_at_start[1]

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """A transient failure (EntityBusy aside: the write phase sets those records aside) waits
        its `retry_after` or a doubling backoff, then retries (infra.retry)."""
        return retry_transient(
            call,
            attempts=self.attempts,
            backoff=doubling(self.backoff_seconds),
            # the day's budget or quota is spent: retrying only spends the reserve; stop and resume
            give_up_on=(EntityBusy, BudgetReservedForWrites, DailyQuota),
            on_retry=lambda exc, _attempt, delay: self._note_retry(what, exc, delay),
            sleep=self.sleep,
        )

    def _note_retry(self, what: str, exc: TransientError, delay: float) -> None:
        self.summary.retries += 1
        if isinstance(exc, RateLimited):
            self.summary.rate_limited += 1
        self.progress.note(f"{what}: {exc.message}; retrying in {delay:.1f} s")

    def _bling(self, what: str, call: Callable[[], T]) -> T:
        return self._call(what, call)

    def _auvo(self, what: str, call: Callable[[], T]) -> T:
        return self._call(what, call)

    # --- phase 1 and 2: the index --------------------------------------------------------------------

    def _index_auvo(self) -> None:
        """Auvo answers full records, ordered by id; a short page is the last one."""
        self.progress.start("index Auvo")
        page, previous = 1, None
        while True:
            records = self._auvo("GET /customers", lambda p=page: self.auvo.customers_page(None, p))
            self.summary.auvo_pages += 1
            if not records or records == previous:
                break
            for record in records:
                self.index.add_auvo(record)
            self.progress.advance(len(records))
            if len(records) < PAGE_SIZE:
                break
            previous, page = records, page + 1
        self.summary.auvo_read = len(self.index.auvo)
        self.progress.finish()

    def _index_bling(self) -> None:
        """Bling's list ends with an empty page (a short page is not promised to be the last)."""
        self.progress.start("index Bling")
        page, previous = 1, None
        while True:
            records = self._bling("GET /contatos", lambda p=page: self.bling.contacts_page(p, criterio=1))
            self.summary.bling_pages += 1
            if not records or records == previous:
                break
            for record in records:
                self.index.add_bling(record, complete=False)
            self.progress.advance(len(records))
            previous, page = records, page + 1
        self.summary.bling_read = len(self.index.bling)
        self.progress.finish()

    # --- phase 3: pairing and linking ----------------------------------------------------------------

    def _pairing(self) -> Pairing:
        links = {p.auvo_id: p.bling_id for p in self.store.id_pairs(self.tenant, ENTITY)}
        return pair_customers(self.index.auvo_entries(), self.index.bling_entries(), links)

    def _pair(self) -> tuple[Pairing, dict[Pair, Verdict]]:
        pairing = self._pairing()
        if pairing.stale_links and self._settle_stale_links(pairing):
            pairing = self._pairing()
        wanted = email_reads_wanted(pairing, self.index.auvo_entries(), self.index.bling_entries())
        if wanted:
            pairing = self._read_for_email(wanted)
        verdicts = {}
        for pair in pairing.pairs:
            verdicts[pair] = compare_pair(
                self.index.auvo_fields[pair.auvo_id],
                self.index.bling_fields(pair.bling_id),
                last_auvo=self.store.fingerprint(self.tenant, "auvo", ENTITY, pair.auvo_id),
                last_bling=self.store.fingerprint(self.tenant, "bling", ENTITY, pair.bling_id),
            )
        self.summary.paired = pairing.by_rule()
        self.summary.held = {f"auvo {k}": v for k, v in pairing.held_auvo.items()}
        self.summary.held.update({f"bling {k}": v for k, v in pairing.held_bling.items()})
        return pairing, verdicts

    def _settle_stale_links(self, pairing: Pairing) -> bool:
        """A link whose record is missing from one list: gone, or missed by the paging?

        Offset paging misses a record when another is deleted during the scan; acting on that
        (forgetting the link, then creating the "missing" record again) would make a duplicate,
        so each stale link costs one read by id first. Returns whether the index grew.
        """
        grew = False
        for auvo_id, bling_id in pairing.stale_links:
            missing_auvo = auvo_id not in self.index.auvo
            try:
                if missing_auvo:
                    record = self._auvo("GET /customers/{id}", lambda a=auvo_id: self.auvo.get_customer(a))
                    self.index.add_auvo(record)
                else:
                    record = self._bling(
                        "GET /contatos/{id}", lambda b=bling_id: self.bling.get_contact(int(b))
                    )
                    self._read_ids.add(bling_id)
                    self.index.add_bling(record, complete=True)
                self.summary.recovered_from_stale += 1
                grew = True
            except NotFound:
                self.summary.stale_links_dropped += 1
                if not self.dry_run:
                    if missing_auvo:
                        self.store.forget_link(self.tenant, ENTITY, auvo_id=auvo_id)
                    else:
                        self.store.forget_link(self.tenant, ENTITY, bling_id=bling_id)
                    grew = True
        return grew

    def _read_for_email(self, wanted: list[str]) -> Pairing:
        """Read document-less unpaired contatos in full so the e-mail rule can see them.

        When the direction writes Bling contatos into Auvo these reads are not extra: an unpaired
        contato is read in full anyway to be created in Auvo, and the read is reused. Only in
        `auvo_to_bling` are they pure cost, hence the bound.
        """
        writes_to_auvo = self.direction in (Direction.bling_to_auvo, Direction.both)
        to_read = wanted if writes_to_auvo else wanted[: self.max_email_reads]
        self.summary.email_reads_skipped = len(wanted) - len(to_read)
        self.progress.start("read e-mails", len(to_read))
        for bling_id in to_read:
            try:
                record = self._bling("GET /contatos/{id}", lambda b=bling_id: self.bling.get_contact(int(b)))
            except NotFound:
                continue  # deleted since the list was read
            self._read_ids.add(bling_id)
            self.index.add_bling(record, complete=True)
            self.summary.email_reads += 1
            self.progress.advance()
        self.progress.finish()
        if self.summary.email_reads_skipped:
            self.progress.note(
                f"{self.summary.email_reads_skipped} document-less contatos not read for e-mail matching "
                "(--max-email-reads)"
            )
        return self._pairing()

    def _count_plan(self, pairing: Pairing, verdicts: dict[Pair, Verdict], plan: list[Write]) -> None:
        planned: dict[str, int] = {}
        for item in plan:
            planned[item.kind.value] = planned.get(item.kind.value, 0) + 1
        self.summary.planned = planned
        self.summary.newly_linked = sum(1 for p in pairing.pairs if p.rule != Rule.ID_MAP)
        if self.direction == Direction.both:
            self.summary.differ_left = sum(1 for v in verdicts.values() if v != Verdict.SAME)
        if self.direction == Direction.bling_to_auvo:
            self.summary.auvo_only_not_written = len(pairing.auvo_only)
        if self.direction == Direction.auvo_to_bling:
            self.summary.bling_only_not_written = len(pairing.bling_only)

    def _link(self, pairing: Pairing, verdicts: dict[Pair, Verdict]) -> None:
        """Record every pair: link (new ones) and the fingerprints of what each side holds.

        A pair that agrees gets Auvo's fingerprint on both sides (the lists say both hold that);
        a differing pair in `both` gets each side's own; a pair about to be written gets none yet
        (the write records them), so a crash before the write cannot make the live flow take the
        source's next poll for an echo.
        """
        work: list[tuple[Pair, tuple[str, str] | None]] = []
        for pair in pairing.pairs:
            fp_auvo = self.index.auvo_fields[pair.auvo_id].fingerprint()
            verdict = verdicts[pair]
            fps: tuple[str, str] | None = None
            if verdict == Verdict.SAME:
                fps = (fp_auvo, fp_auvo)
            elif self.direction == Direction.both:
                fps = (fp_auvo, self.index.bling_fields(pair.bling_id).fingerprint())
            if pair.rule == Rule.ID_MAP and (fps is None or self._fingerprints_are(pair, fps)):
                continue  # nothing new to record: a re-run touches nothing here
            work.append((pair, fps))
        self.progress.start("link", len(work))
        for start in range(0, len(work), LINK_BATCH):
            chunk = work[start : start + LINK_BATCH]
            try:
                with self.store.transaction() as conn:
                    for pair, fps in chunk:
                        self._record_pair(conn, pair, fps)
            except IdMapConflict:
                for pair, fps in chunk:  # find the one that conflicts; record the others
                    try:
                        with self.store.transaction() as conn:
                            self._record_pair(conn, pair, fps)
                    except IdMapConflict as exc:
                        self.summary.failed.append(
                            f"link auvo {pair.auvo_id} <-> bling {pair.bling_id}: {exc}"
                        )
            self.progress.advance(len(chunk))
        self.progress.finish()

    def _fingerprints_are(self, pair: Pair, fps: tuple[str, str]) -> bool:
        return (
            self.store.fingerprint(self.tenant, "auvo", ENTITY, pair.auvo_id) == fps[0]
            and self.store.fingerprint(self.tenant, "bling", ENTITY, pair.bling_id) == fps[1]
        )

    def _record_pair(self, conn: Connection, pair: Pair, fps: tuple[str, str] | None) -> None:
        self.store.link(conn, self.tenant, ENTITY, pair.auvo_id, pair.bling_id)
        if fps is not None:
            self.store.set_fingerprint(conn, self.tenant, "auvo", ENTITY, pair.auvo_id, fps[0])
            self.store.set_fingerprint(conn, self.tenant, "bling", ENTITY, pair.bling_id, fps[1])
        if pair.rule == Rule.MARKER:  # maybe the contato an interrupted create left behind
            self.store.clear_intent(conn, self.tenant, self.contatos.writes, pair.auvo_id)
        if pair.rule != Rule.ID_MAP:
            self.store.bump(conn, self.tenant, f"{CONSUMER}.linked_{pair.rule.value}")

    # --- phase 4: writes -------------------------------------------------------------------------------

    def _write(self, plan: list[Write]) -> None:
        """Each planned write through its writer; records another writer holds, or whose create
        is in doubt, are set aside and retried when their wait is over (up to BUSY_ROUNDS times)."""
        total = len(plan)
        self._checkpoint("write", f"0/{total}")
        self.progress.start("write", total)
        done = 0
        pending: list[tuple[float, Write]] = [(0.0, item) for item in plan]
        rounds = 0
        while pending:
            busy: list[tuple[float, Write]] = []
            for due, item in pending:
                wait = due - time.monotonic()
                if wait > 0:
                    self.sleep(wait)
                try:
                    self._apply(item)
                except EntityBusy as exc:
                    busy.append((time.monotonic() + (exc.retry_after or self.backoff_seconds), item))
                    continue
                except (ApiRejected, NotFound, IdMapConflict, AmbiguousMatch) as exc:
                    # this record's problem (a field Bling refuses, a record deleted meanwhile): report
                    # it and go on; a broken authorization or API is raised and stops the run
                    self.summary.failed.append(f"{item.kind.value} {_who(item)}: {exc.message}")
                done += 1
                self.progress.advance()
                if done % CHECKPOINT_EVERY == 0 or done == total:
                    self._checkpoint("write", f"{done}/{total}")
            rounds += 1
            if busy and rounds > BUSY_ROUNDS:
                self.summary.failed += [f"{i.kind.value} {_who(i)}: still busy; run again" for _, i in busy]
                break
            if busy:
                self.summary.busy_retries += len(busy)
                self.progress.note(f"{len(busy)} records busy elsewhere or in doubt; retried when due")
            pending = sorted(busy, key=lambda entry: entry[0])
        self.progress.finish()

    def _apply(self, item: Write) -> None:
        if item.kind == WriteKind.CREATE_BLING:
            assert item.auvo_id is not None
            result = self._write_contato(item.auvo_id)
            if result == CREATED:
                self.summary.created_bling += 1
            else:  # found made already (by marker or id map): linked, not created twice
                self.summary.recovered_after_crash += 1
        elif item.kind == WriteKind.CREATE_AUVO:
            assert item.bling_id is not None
            result = self._write_customer(item.bling_id)
            if result == CREATED:
                self.summary.created_auvo += 1
            else:  # the upsert found it by externalId (an interrupted run, a live consumer)
                self.summary.recovered_after_crash += 1
        else:
            assert item.auvo_id is not None and item.bling_id is not None
            if item.kind == WriteKind.UPDATE_BLING:
                result = self._write_contato(item.auvo_id, known=self._full_contact(item.bling_id))
            else:
                result = self._write_customer(item.bling_id)
            if result == UNCHANGED:
                self.summary.unchanged_after_read += 1
            elif item.kind == WriteKind.UPDATE_BLING:
                self.summary.updated_bling += 1
            else:
                self.summary.updated_auvo += 1

    def _write_contato(self, auvo_id: str, *, known: JsonDict | None = None) -> str:
        """Auvo's data into the customer's contato, through the contatos consumer's writer."""
        customer = self.index.auvo[auvo_id]
        outcome = self._bling(
            "write contato",
            lambda: self.contatos.write_planned(self.tenant, customer, known=known, counter=CONSUMER),
        )
        if outcome.link is not None:
            self._written_ids.add(outcome.link[2])
        return outcome.result

    def _write_customer(self, bling_id: str) -> str:
        """The contato (read in full once per run) into Auvo, through the customers consumer's writer."""
        contact = BlingContact.model_validate(self._full_contact(bling_id))
        outcome = self._auvo(
            "write Auvo customer",
            lambda: self.customers.write_planned(self.tenant, contact, counter=CONSUMER),
        )
        self._written_ids.add(bling_id)
        return outcome.result

    def _full_contact(self, bling_id: str) -> JsonDict:
        """The contato in full: read once per run (an e-mail read is reused by the write)."""
        if bling_id not in self.index.full:
            record = self._bling("GET /contatos/{id}", lambda: self.bling.get_contact(int(bling_id)))
            self._read_ids.add(bling_id)
            self.index.add_bling(record, complete=True)
        return self.index.full[bling_id]

    def _finish_extra_reads(self) -> None:
        self.summary.full_reads = len(self._read_ids)
        self.summary.extra_reads = len(self._read_ids - self._written_ids)

    # --- the pollers' cursors ----------------------------------------------------------------------------

    def _advance_poller_cursors(self, started: datetime) -> None:
        """Move the live pollers past what this run covered (only those the direction runs).

        Auvo: the newest `dateLastUpdate` indexed (later changes, ours included, are re-read and
        our own dropped as echoes). Bling: the moment this run started, before the contatos were
        listed. A cursor already further on (a poller ran meanwhile) is left where it is.
        """
        from producers import auvo_customers, bling_contacts

        if self.direction in (Direction.auvo_to_bling, Direction.both):
            current = self.store.cursor(self.tenant, auvo_customers.CURSOR)
            newest = auvo_customers.newest(current, self.index.newest_auvo_update)
            if newest and newest != current:
                self.store.set_cursor(self.tenant, auvo_customers.CURSOR, newest)
        if self.direction in (Direction.bling_to_auvo, Direction.both):
            current = self.store.cursor(self.tenant, bling_contacts.CURSOR)
            if current is None or _aware(datetime.fromisoformat(current)) < started:
                self.store.set_cursor(self.tenant, bling_contacts.CURSOR, started.isoformat())


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _who(item: Write) -> str:
    return " ".join(f"{s} {i}" for s, i in (("auvo", item.auvo_id), ("bling", item.bling_id)) if i)
