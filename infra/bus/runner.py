"""The consumer runner: owns acking, retries and dead-lettering so handlers never touch AMQP.

A handler is a callable `Envelope -> outcome` that raises typed errors (infra.errors). The
runner turns each outcome into exactly one broker action, and acks only after that action is
safe: after the handler committed, after a retry copy was confirmed, or after the dead letter
was confirmed. If any of those publishes fails the message is left unacked and comes back.

A handler that does not return nor raise an Exception (SystemExit, KeyboardInterrupt, a crash
the process cannot survive) gets its message *rejected* with requeue before the exception goes
on: RabbitMQ counts a reject in the quorum queue's delivery count (4.3+ does not count a nack), so
a message that keeps killing its consumer reaches `x-delivery-limit` and the broker dead-letters
it with reason `delivery_limit` instead of redelivering it forever. A process killed outright
(SIGKILL, OOM) gets the same through its closed connection.

Each consumer queue may have its own RetryPolicy (`bus.overrides` in the settings).

Built on kombu's ConsumerMixin, which reconnects after a broker restart by itself.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy.exc
import structlog
from kombu import Connection, Consumer
from kombu.message import Message
from kombu.mixins import ConsumerMixin

from contracts.envelope import Envelope, MalformedMessage
from infra import metrics
from infra.bus.dlq_index import DeadLetterIndex, entry_of
from infra.bus.dlq_records import DeadLetter, header_count
from infra.bus.failover import FailoverClock
from infra.bus.publisher import Publisher, is_memory_url, make_connection
from infra.bus.topology import Topology, WorkQueue
from infra.errors import (
    QUOTA_PAUSE_CLASSES,
    ContractViolation,
    DailyQuota,
    DatabaseBusy,
    EntityBusy,
    FlowOff,
    IntegrationError,
    PermanentError,
    QuotaBusy,
    TenantMismatch,
    TenantPaused,
    TransientError,
    UnexpectedError,
)
from infra.logging import SECRET_KEYS, scrub
from infra.ratelimit import set_aside_after
from infra.store.history import SUBJECT_OF_EVENT, HistoryRow, Kind
from infra.tenant_gate import TenantGate

Handler = Callable[[Envelope], str]
log = structlog.get_logger("bus")

# Headers we add; everything else of the original message is kept as it was.
ATTEMPTS = "x-attempts"
ORIGINAL_ROUTING_KEY = "x-original-routing-key"
ORIGINAL_EXCHANGE = "x-original-exchange"
FIRST_FAILURE_AT = "x-first-failure-at"
# EntityBusy (another consumer holds the entity, or a create of it is still in doubt) is waiting, not
# failing: it is retried without spending the event's attempts. Both causes end by themselves (the
# lock's TTL, the doubt window); this cap is only the backstop against a bug that never ends.
# DatabaseBusy (sqlalchemy's pool TimeoutError: every connection of the process stayed checked out
# for the pool timeout) is the same kind of waiting: the other handlers give their connections back.
BUSY_RETRIES = "x-busy-retries"
MAX_BUSY_RETRIES = 100
# Set by the broker; they describe one trip through a queue and must not travel with a copy.
_BROKER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)


@dataclass
class RetryPolicy:
    """Backoff steps with jitter; after `max_attempts` failures a transient error is dead-lettered."""

    delays: list[float] = field(default_factory=lambda: [5.0, 30.0, 120.0, 600.0, 3600.0])
    max_attempts: int = 6
    jitter: float = 0.2

    def step_for(self, attempt: int) -> int:
        return min(max(attempt, 1), len(self.delays)) - 1

    def delay_for(self, attempt: int, retry_after: float | None = None) -> float:
        base = self.delays[self.step_for(attempt)]
        delay = base * random.uniform(1 - self.jitter, 1 + self.jitter)
        # never above the delay queue's TTL bound (topology uses 1.25x)
        delay = min(delay, base * 1.24)
        if retry_after:
            delay = max(delay, min(retry_after, base * 1.24))
        return delay

    @classmethod
    def from_settings(cls, bus: Any, queue: str | None = None) -> RetryPolicy:
        """The bus default policy, or one work queue's (its `bus.overrides` entry applied)."""
        if queue is None:
            return cls(delays=list(bus.retry_delays_seconds), max_attempts=bus.max_attempts)
        return cls(delays=bus.retry_delays_for(queue), max_attempts=bus.max_attempts_for(queue))


def retry_overrides(bus: Any) -> dict[str, RetryPolicy]:
    """One RetryPolicy per work queue that `bus.overrides` names, keyed by unprefixed queue name."""
    return {name: RetryPolicy.from_settings(bus, name) for name in bus.overrides}


class InProcessDelay:
    """Retry timer for the memory transport, which has no TTL or dead-lettering."""

    def __init__(self) -> None:
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
            action()

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            self._timers.add(timer)
        timer.start()

    def pending(self) -> int:
        with self._lock:
            return len(self._timers)


class FailureHistory(Protocol):
    """Where the retries and dead letters of each record are told (the store's record history)."""

    def record_history(self, tenant: str, rows: list[HistoryRow]) -> None: ...


def failure_row(
    envelope: Envelope, wq: WorkQueue, kind: Kind, error: IntegrationError, attempts: int
) -> HistoryRow:
    """A retry or dead letter as a history row: the diagnosis a person acts on (scrubbed)."""
    diag = error.diagnosis()
    details: dict[str, Any] = {
        "flow": wq.flow,
        "queue": wq.name,
        "attempts": attempts,
        "error_message": scrub(str(diag.get("error_message", "")))[:500],
        "hint": diag.get("hint", ""),
    }
    for key in ("http_status", "api_error_type", "field_errors"):
        if key in diag:
            details[key] = diag[key]
    return HistoryRow(
        SUBJECT_OF_EVENT.get(envelope.type, envelope.type),
        envelope.entity_id,
        kind,
        diag["error_class"],
        envelope.event_id,
        envelope.entity_version or None,
        details,
    )


@dataclass(frozen=True)
class TenantRoute:
    """What handles one tenant's events here: its handlers (by flow id) and its gate."""

    handlers: dict[str, Handler]
    gate: TenantGate | None = None


# the tenant's route, or None when this process does not serve it (a misrouted event)
Routes = Callable[[str], "TenantRoute | None"]


class _StopReconnecting(Exception):
    """Raised from kombu's reconnect loop once the worker is asked to stop."""


class QueueWorker(ConsumerMixin):
    """Consumes a set of work queues in one thread; run several processes to scale out."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        handlers: dict[WorkQueue, Handler],
        publisher: Publisher,
        *,
        policy: RetryPolicy | None = None,
        prefetch: int = 20,
        in_process_delay: InProcessDelay | None = None,
        overrides: dict[str, RetryPolicy] | None = None,
        gate: TenantGate | None = None,
        history: FailureHistory | None = None,
        dead_letters: DeadLetterIndex | None = None,
        routes: Routes | None = None,
        set_aside_after: float | None = None,
    ) -> None:
        """`handlers` names the queues consumed. One tenant's worker (per-tenant topology) handles
        them with these handlers behind `gate`; a worker of the shared topology is given `routes`
        instead and hands each event to its own tenant's handler and gate (`handlers` then only
        says which queues to consume).

        `set_aside_after`: a handler's request whose API slot is further away than this is not
        waited for; the event goes to a delay queue without spending an attempt (QuotaBusy), so
        a thread serving every company never sleeps through one company's booked quota."""
        self.url = url
        self.routes = routes
        self.set_aside_after = set_aside_after
        # the store's dead-letter index (the console's Falhas page): one row per dead letter
        self.dead_letters = dead_letters
        # retries and dead letters told in each record's story (failure paths only: a handled
        # event's row is part of its handler's commit)
        self.history = history
        # the one tenant whose queues these are: other tenants' events are refused, and a paused
        # tenant's in-flight events are parked in the DLQ instead of failing one by one
        self.gate = gate
        self._own_route = TenantRoute({wq.flow: h for wq, h in handlers.items()}, gate)
        self.connection: Connection = make_connection(url)
        self.topology = topology
        self.handlers = handlers
        self.publisher = publisher
        self.policy = policy or RetryPolicy()
        # per work queue (unprefixed name); its delay steps must match topology.delays_for(wq)
        self.overrides = dict(overrides or {})
        self.prefetch = prefetch
        self.stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self.in_process_delay = in_process_delay
        if is_memory_url(url) and self.in_process_delay is None:
            self.in_process_delay = InProcessDelay()
        self.last_activity = time.monotonic()
        # told of each handled event (the process's heartbeat tally: auvo_bling/heartbeat.py)
        self.on_handled: Callable[[str, Envelope], None] | None = None
        # for /readyz: True only while consuming on a live connection, False while (re)connecting
        self.connected = False
        self.connection_error: str | None = None
        self.failover = FailoverClock("consumer")

    # --- kombu ConsumerMixin -------------------------------------------------------------------

    def get_consumers(self, consumer_cls: type[Consumer], channel: Any) -> list[Consumer]:
        consumers = []
        for wq in self.handlers:
            consumers.append(
                consumer_cls(
                    queues=[self.topology.work_queue(wq)],
                    on_message=self._on_message_for(wq),
                    prefetch_count=self.prefetch,
                )
            )
        return consumers

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.connected = False
        self.failover.lost()
        self.connection_error = f"{type(exc).__name__}: {scrub(str(exc))}"[:200]
        log.warning("broker connection lost, reconnecting", error=scrub(str(exc)), retry_in=interval)

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        try:
            super().run(_tokens, **kwargs)
        except _StopReconnecting:
            log.info("stopped while reconnecting to the broker")

    @contextlib.contextmanager
    def establish_connection(self) -> Iterator[Connection]:
        """kombu's, except that a stop ends the reconnect loop within a second: kombu retries a
        broker that is away forever, and the thread would outlive `stop()` until the broker is back."""
        with self.create_connection() as conn:
            # the first retry at once: on a cluster's failover list it goes to the next node (kombu's
            # default waits 2 s first, then up to 30 s between tries)
            conn.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=0,
                interval_step=0.5,
                interval_max=3,
                callback=self._stop_reconnecting,
            )
            yield conn

    def _stop_reconnecting(self) -> None:
        if self.should_stop:
            raise _StopReconnecting

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self.connected = True
        self.connection_error = None
        self.failover.restored()

    @contextlib.contextmanager
    def consumer_context(self, **kwargs: Any) -> Iterator[Any]:
        """kombu's, noting that consuming ended (a lost connection, a stop) until it is ready again."""
        try:
            with super().consumer_context(**kwargs) as context:
                yield context
        except _StopReconnecting:
            raise
        except Exception as exc:
            self.connection_error = f"{type(exc).__name__}: {scrub(str(exc))}"[:200]
            self.failover.lost()
            raise
        finally:
            self.connected = False

    def stop(self) -> None:
        self.should_stop = True

    # --- message handling ----------------------------------------------------------------------

    def policy_for(self, wq: WorkQueue) -> RetryPolicy:
        return self.overrides.get(wq.base_name, self.policy)

    def route_for(self, tenant: str) -> TenantRoute | None:
        if self.routes is not None:
            return self.routes(tenant)
        if self.gate is not None and tenant != self.gate.tenant:
            return None
        return self._own_route

    def _on_message_for(self, wq: WorkQueue) -> Callable[[Message], None]:
        def on_message(message: Message) -> None:
            if self.should_stop:
                # Stopping: kombu waits for cancel-ok, and meanwhile hands us the deliveries already
                # prefetched; handling them would make a stop take prefetch x handler time (minutes
                # at Bling's 3 req/s). Left unacked, the broker gives them back when the channel
                # closes, to another consumer or to this one when it starts again.
                return
            self.last_activity = time.monotonic()
            started = time.perf_counter()
            try:
                self.process(wq, message)
            except BaseException:
                self._crashed(wq, message)
                raise
            finally:
                metrics.HANDLER_SECONDS.labels(consumer=wq.name).observe(time.perf_counter() - started)

        return on_message

    def _crashed(self, wq: WorkQueue, message: Message) -> None:
        """The handling did not finish: give the message back so the delivery limit counts it.

        reject (not nack): RabbitMQ 4.3+ increments a quorum queue's delivery count only for
        reject, and the delivery limit is what stops a message that crashes every consumer.
        The consumer is cancelled first (same channel, so the broker sees it before the reject):
        otherwise the broker hands the message straight back to this dying consumer, and its
        channel closing returns it once more, spending two deliveries on one crash.
        """
        metrics.CRASHED.labels(consumer=wq.name).inc()
        self._count("crashed")
        if message.acknowledged:
            return
        try:
            _cancel_without_waiting(message)
            message.reject(requeue=True)
        except Exception:  # the connection is gone: the broker returns (and counts) it anyway
            log.warning(
                "could not reject after a crash; the broker will return the message", consumer=wq.name
            )
        else:
            log.error("handler crashed; message rejected for the delivery limit to count", consumer=wq.name)

    def process(self, wq: WorkQueue, message: Message) -> None:
        policy = self.policy_for(wq)
        headers = dict(message.headers or {})
        attempts = header_count(headers, ATTEMPTS)
        try:
            envelope = Envelope.from_json(message.body)
        except MalformedMessage as exc:
            self._dead_letter(wq, message, ContractViolation(str(exc)), attempts + 1, self._index_tenant())
            message.ack()
            return
        bound = log.bind(
            event_id=envelope.event_id,
            event_type=envelope.type,
            entity_id=envelope.entity_id,
            tenant=envelope.tenant,
            consumer=wq.name,
        )
        route = self.route_for(envelope.tenant)
        gate = route.gate if route is not None else None
        tenant = envelope.tenant if route is not None else self._index_tenant()
        refusal = self._gate_refusal(envelope, route)
        handler = route.handlers.get(wq.flow) if route is not None else None
        if isinstance(refusal, DailyQuota):
            # the quota comes back by itself: held in a delay queue, never parked in the DLQ; the
            # tenant's consumers stop within a second, so the copy then waits in the work queue
            bound.info("tenant waits for the daily quota; event held", error_class=refusal.error_class)
            self._retry(wq, message, attempts, policy.delay_for(max(attempts, 1)), refusal)
            message.ack()
            return
        if refusal is not None or handler is None:
            refusal = refusal or FlowOff(f"flow {wq.flow} is off for tenant {envelope.tenant!r}")
            bound.warning("not handled, dead-lettering", **refusal.diagnosis())
            self._dead_letter(wq, message, refusal, attempts, tenant)
            self._tell(envelope, wq, Kind.dead_lettered, refusal, attempts)
            message.ack()
            return
        try:
            with set_aside_after(self.set_aside_after):
                outcome = handler(envelope)
        except PermanentError as exc:
            bound.error("permanent failure, dead-lettering", **exc.diagnosis())
            if exc.pauses_tenant and gate is not None:
                try:
                    gate.pause(exc)
                except Exception:  # the store is away: the dead letter still says why; next one pauses
                    bound.exception("could not pause the tenant")
            self._dead_letter(wq, message, exc, attempts + 1, tenant)
            self._tell(envelope, wq, Kind.dead_lettered, exc, attempts + 1)
        except MalformedMessage as exc:
            error = ContractViolation(str(exc))
            bound.error("payload does not match its contract, dead-lettering", **error.diagnosis())
            self._dead_letter(wq, message, error, attempts + 1, tenant)
            self._tell(envelope, wq, Kind.dead_lettered, error, attempts + 1)
        except Exception as exc:  # transient, or a bug: both deserve a bounded number of retries
            if isinstance(exc, sqlalchemy.exc.TimeoutError):  # the connection pool stayed exhausted
                exc = DatabaseBusy(f"no database connection free: {scrub(str(exc))}")
            error = exc if isinstance(exc, TransientError) else _unexpected(exc)
            if not isinstance(exc, TransientError):
                bound.exception("unexpected error in handler")
            if isinstance(exc, DailyQuota):
                self._quota_spent(wq, message, attempts, policy, exc, bound, gate)
                message.ack()
                return
            busy = header_count(headers, BUSY_RETRIES)
            if isinstance(exc, EntityBusy | DatabaseBusy | QuotaBusy) and busy < MAX_BUSY_RETRIES:
                delay = policy.delay_for(max(attempts, 1), error.retry_after)
                bound.info(
                    "busy, retrying without spending an attempt",
                    error_class=error.error_class,
                    busy_retries=busy + 1,
                    retry_in=round(delay, 2),
                )
                self._retry(wq, message, attempts, delay, error, busy_retries=busy + 1)
                message.ack()
                return
            attempts += 1
            if attempts >= policy.max_attempts:
                bound.error("attempts exhausted, dead-lettering", attempts=attempts, **error.diagnosis())
                self._dead_letter(wq, message, error, attempts, tenant)
                self._tell(envelope, wq, Kind.dead_lettered, error, attempts)
            else:
                delay = policy.delay_for(attempts, error.retry_after)
                bound.warning(
                    "transient failure, retrying",
                    attempts=attempts,
                    retry_in=round(delay, 2),
                    **error.diagnosis(),
                )
                self._retry(wq, message, attempts, delay, error)
                self._tell(envelope, wq, Kind.retried, error, attempts)
        else:
            self._count(outcome)
            metrics.HANDLED.labels(consumer=wq.name, outcome=outcome).inc()
            bound.info("handled", outcome=outcome)
            if self.on_handled is not None:
                self.on_handled(wq.flow, envelope)
        message.ack()

    def _tell(
        self, envelope: Envelope, wq: WorkQueue, kind: Kind, error: IntegrationError, attempts: int
    ) -> None:
        """Tell the failure in the record's story, after the broker has the copy: history must never
        stop a retry or a dead letter (a store that is away is logged, and the message goes on)."""
        if self.history is None:
            return
        try:
            self.history.record_history(envelope.tenant, [failure_row(envelope, wq, kind, error, attempts)])
        except Exception as exc:
            log.warning(
                "could not tell the failure in the record's history",
                event_id=envelope.event_id,
                consumer=wq.name,
                error=scrub(str(exc)),
            )

    def _quota_spent(
        self,
        wq: WorkQueue,
        message: Message,
        attempts: int,
        policy: RetryPolicy,
        exc: DailyQuota,
        bound: Any,
        gate: TenantGate | None,
    ) -> None:
        """The day's Bling quota is spent: pause the tenant (its consumers stop, a probe or the day's
        turn resumes it) and hold the event without spending an attempt: it did nothing wrong."""
        bound.warning("daily quota spent; tenant pauses, event held", **exc.diagnosis())
        if gate is not None:
            try:
                gate.pause(exc)
            except Exception:  # the store is away: the next event pauses it
                bound.exception("could not pause the tenant")
        self._retry(wq, message, attempts, policy.delay_for(max(attempts, 1), exc.retry_after), exc)

    def _gate_refusal(self, envelope: Envelope, route: TenantRoute | None) -> IntegrationError | None:
        """Why this event must not be handled here, if it must not."""
        if route is None:
            if self.routes is not None:
                return TenantMismatch(
                    f"event of tenant {envelope.tenant!r}, which this deployment does not serve"
                )
            served = self.gate.tenant if self.gate is not None else "?"
            return TenantMismatch(f"event of tenant {envelope.tenant!r} arrived on tenant {served!r}'s queue")
        gate = route.gate
        if gate is None:
            return None
        try:
            pause = gate.pause_of()
            if pause is not None:
                pause = gate.pause_of(fresh=True)  # the cache may predate a `tenants resume`
        except Exception:  # the store is away: the handler meets that too, and is retried
            return None
        if pause is not None and pause.error_class in QUOTA_PAUSE_CLASSES:
            return DailyQuota(f"tenant {pause.tenant!r} waits for the daily quota ({pause.reason})")
        if pause is not None:
            return TenantPaused(
                f"tenant {pause.tenant!r} is paused since {pause.paused_at.isoformat(timespec='seconds')} "
                f"({pause.error_class}: {pause.reason})"
            )
        return None

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def _carried_headers(self, message: Message) -> dict[str, Any]:
        headers = carried_headers(message.headers or {})
        info = message.delivery_info or {}
        headers.setdefault(ORIGINAL_ROUTING_KEY, info.get("routing_key", ""))
        headers.setdefault(ORIGINAL_EXCHANGE, info.get("exchange", ""))
        return headers

    def _retry(
        self,
        wq: WorkQueue,
        message: Message,
        attempts: int,
        delay: float,
        error: IntegrationError,
        *,
        busy_retries: int | None = None,
    ) -> None:
        now = _iso_now()
        headers = self._carried_headers(message)
        headers.setdefault(FIRST_FAILURE_AT, now)
        headers[ATTEMPTS] = attempts
        if busy_retries is not None:
            headers[BUSY_RETRIES] = busy_retries
        headers["x-last-error-class"] = type(error).__name__
        headers["x-last-failure-at"] = now
        body = message.body
        if self.in_process_delay is not None:
            target = self.topology.name(wq.name)
            self.in_process_delay.schedule(
                delay,
                lambda: self.publisher.publish_raw(body, exchange="", routing_key=target, headers=headers),
            )
        else:
            self.publisher.publish_raw(
                body,
                exchange="",
                routing_key=self.topology.delay_queue_name(wq, self.policy_for(wq).step_for(attempts)),
                headers=headers,
                expiration=delay,
            )
        self._count("retried")
        metrics.RETRIED.labels(consumer=wq.name, error_class=error.error_class).inc()

    def _index_tenant(self) -> str:
        """Whose dead letter index takes a letter that names no tenant this process serves."""
        return self.gate.tenant if self.gate is not None else "default"

    def _dead_letter(
        self, wq: WorkQueue, message: Message, error: IntegrationError, attempts: int, tenant: str
    ) -> None:
        now = _iso_now()
        headers = self._carried_headers(message)
        headers.setdefault(FIRST_FAILURE_AT, now)
        diag = error.diagnosis()
        headers.update(
            {
                ATTEMPTS: attempts,
                "x-consumer": wq.base_name,  # a replay goes to the live queue
                "x-error-class": diag["error_class"],
                "x-error-message": scrub(diag["error_message"])[:2000],
                "x-hint": diag.get("hint", ""),
                "x-last-failure-at": now,
                "x-dead-lettered-at": now,
            }
        )
        if "http_status" in diag:
            headers["x-http-status"] = diag["http_status"]
        if "api_error_type" in diag:
            headers["x-api-error-type"] = diag["api_error_type"]
        if "field_errors" in diag:
            headers["x-field-errors"] = json.dumps(diag["field_errors"], ensure_ascii=False)
        self.publisher.publish_raw(
            message.body,
            exchange=self.topology.dlx,
            routing_key=headers.get(ORIGINAL_ROUTING_KEY) or wq.event_type,
            headers=headers,
            content_type=message.content_type or "application/json",
        )
        self._count("dead_lettered")
        metrics.DEAD_LETTERED.labels(consumer=wq.name, error_class=diag["error_class"]).inc()
        self._index_dead_letter(message.body, headers, tenant)

    def _index_dead_letter(self, body: bytes | str, headers: dict[str, Any], tenant: str) -> None:
        """Index the dead letter the broker confirmed, derived as a read of the queue derives it (same id
        and fingerprint). Like history, the index never stops a dead letter: a store that is away is
        logged, and `dlq reindex` (or the next `dlq list`) puts the row in from the queue."""
        if self.dead_letters is None:
            return
        try:
            raw = body if isinstance(body, bytes) else body.encode("utf-8")  # kombu decodes text bodies
            letter = DeadLetter.from_message(raw, headers, prefix=self.topology.prefix)
            self.dead_letters.index_dead_letters([entry_of(letter, tenant=tenant)])
        except Exception as exc:
            log.warning(
                "could not index the dead letter",
                error_class=headers.get("x-error-class", ""),
                consumer=headers.get("x-consumer", ""),
                error=scrub(str(exc)),
            )


def _cancel_without_waiting(message: Message) -> None:
    """Stop deliveries to the consumer of `message` without reading from the channel meanwhile
    (waiting for cancel-ok would dispatch other deliveries from inside the crash path)."""
    tag = (message.delivery_info or {}).get("consumer_tag")
    if not tag:
        return
    try:
        message.channel.basic_cancel(tag, nowait=True)
    except TypeError:  # kombu's virtual (memory) transport has no nowait and never waits
        message.channel.basic_cancel(tag)


def carried_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """A message's headers as a copy of it may carry: without the broker's per-trip headers and
    without anything that looks like a credential (a header named like a token is dropped, text
    values are scrubbed), so no secret reaches a delay queue or the DLQ."""
    out: dict[str, Any] = {}
    for key, value in headers.items():
        if key in _BROKER_HEADERS or SECRET_KEYS.search(key):
            continue
        out[key] = scrub(value) if isinstance(value, str) else value
    return out


def _unexpected(exc: Exception) -> UnexpectedError:
    return UnexpectedError(f"unexpected {type(exc).__name__}: {scrub(str(exc))}")


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
