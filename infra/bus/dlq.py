"""Reading and acting on the dead-letter queue without ever losing a message.

AMQP has no "peek", so a read is a *hold*: `DlqSession.scan` takes messages with `basic.get` and
manual ack, and keeps every one of them unacked on its own channel. Messages it holds are not
delivered again, so one pass sees each message once. What the operation acts on is acked (purge)
or acked *after* its republished copy was confirmed (replay); everything else goes back when the
session ends (nack with requeue, then the channel closes), untouched.

Why nack and not reject on the way back: RabbitMQ 4.3+ counts only `basic.reject` in a quorum
queue's delivery count, and the DLQ must never reach a delivery limit just because people looked
at it. On 3.10-4.2 every return is counted, which is harmless because the DLQ is declared without
`x-delivery-limit` (RabbitMQ 4.0-4.2 apply a default limit of 20: there, declare the DLQ with
`x-delivery-limit: -1` or a policy, see the report of issue 7).

Replay target: the consumer's own work queue through the default exchange (named by
`x-consumer`, or by the queue the broker dead-lettered it from), so an event that failed for one
consumer is not delivered again to every queue bound to its routing key. Only a dead letter with
no known consumer goes back through the events exchange with its original routing key. Every
republish is `mandatory` and confirmed: an unroutable copy is reported and the DLQ copy stays.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from amqp import Message as AmqpMessage
from kombu import Connection

from infra.bus.dlq_records import KEPT_PROPERTIES, REPLAY_OPERATION, DeadLetter, DeadLetterFilter
from infra.bus.publisher import is_memory_url, make_connection
from infra.bus.topology import Topology
from infra.errors import ConfigurationError

Progress = Callable[[int], None]  # called with how many messages were just read / written


class DlqError(Exception):
    """An operation on one dead letter failed; the dead letter is still in the DLQ."""


@dataclass(frozen=True)
class Held:
    """A dead letter this session holds (unacked) until it acts on it or ends."""

    letter: DeadLetter
    delivery_tag: int


@dataclass
class ReplayReport:
    replayed: list[tuple[str, str]] = field(default_factory=list)  # (id, target)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)


class DlqSession:
    """One pass over the DLQ on one connection; use as a context manager."""

    def __init__(self, url: str, topology: Topology) -> None:
        if is_memory_url(url):
            raise ConfigurationError(
                "the dlq and status commands need RabbitMQ (AMQP_URL): the embedded memory:// bus "
                "exists only inside the process that runs it"
            )
        self.topology = topology
        self.connection: Connection = make_connection(url)
        self._read: Any = None
        self._pub: Any = None
        self._returned: list[str] = []
        self._lock = threading.Lock()

    def __enter__(self) -> DlqSession:
        self.connection.ensure_connection(max_retries=2, interval_start=0.2, interval_step=0.3)
        self._read = self.connection.channel()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def queue_name(self) -> str:
        return self.topology.dlq.name

    def close(self) -> None:
        """End the session: every dead letter still held goes back to the DLQ as it was."""
        if self._read is not None:
            with contextlib.suppress(Exception):  # a closed channel has returned them already
                self._read.basic_nack(delivery_tag=0, multiple=True, requeue=True)
            with contextlib.suppress(Exception):
                self._read.close()
            self._read = None
        for channel in (self._pub,):
            if channel is not None:
                with contextlib.suppress(Exception):
                    channel.close()
        self._pub = None
        self.connection.release()

    # --- reading --------------------------------------------------------------------------------

    def depth(self) -> int:
        """Messages ready in the DLQ (not counting those this session holds)."""
        _, count, _ = self._read.queue_declare(queue=self.queue_name, passive=True)
        return int(count)

    def scan(
        self,
        flt: DeadLetterFilter | None = None,
        *,
        limit: int | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> Iterator[Held]:
        """Yield the dead letters that match, oldest first, holding each until the session ends."""
        flt = flt or DeadLetterFilter()
        now = now or datetime.now(UTC)
        found = 0
        while limit is None or found < limit:
            message = self._read.basic_get(queue=self.queue_name, no_ack=False)
            if message is None:
                return
            if progress is not None:
                progress(1)
            letter = self._letter(message)
            if self._other_tenants(letter):
                continue  # the shared DLQ: another tenant's letter, given back at the session's end
            if flt.matches(letter, now):
                found += 1
                yield Held(letter, message.delivery_info["delivery_tag"])

    def _other_tenants(self, letter: DeadLetter) -> bool:
        """With the shared topology one DLQ holds every tenant's letters; a tenant's view (the
        topology of its App) sees its own only. A process serving them all (tenant None) sees all."""
        topology = self.topology
        return topology.shared and topology.tenant is not None and letter.tenant != topology.tenant

    def _letter(self, message: Any) -> DeadLetter:
        props = dict(message.properties or {})
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode("utf-8")
        return DeadLetter.from_message(
            body,
            props.get("application_headers") or {},
            routing_key=message.delivery_info.get("routing_key", ""),
            properties=props,
            prefix=self.topology.prefix,
        )

    # --- acting -----------------------------------------------------------------------------------

    def remove(self, held: Held) -> None:
        """Delete one held dead letter (purge)."""
        self._read.basic_ack(delivery_tag=held.delivery_tag)

    def replay_target(self, letter: DeadLetter) -> tuple[str, str]:
        """(exchange, routing key): the consumer's own queue, else the events exchange."""
        if letter.consumer:
            return "", self.topology.name(letter.consumer)
        return self.topology.events_exchange.name, letter.routing_key

    def replay(self, held: Held, *, operation: int | None = None) -> str:
        """Republish to the target, wait for the confirm, only then remove the DLQ copy. The copy of a
        replay operation names it, so a copy that fails again is counted there."""
        letter = held.letter
        exchange, routing_key = self.replay_target(letter)
        headers = letter.replay_headers()
        if operation is not None:
            headers[REPLAY_OPERATION] = operation
        self._publish(letter.body, headers, letter.properties, exchange, routing_key)
        self._read.basic_ack(delivery_tag=held.delivery_tag)
        return routing_key if not exchange else f"{exchange} [{routing_key}]"

    def put(self, letter: DeadLetter) -> None:
        """Publish a dead letter into the DLQ (import): through the DLX, keeping its routing key."""
        self._publish(
            letter.body, letter.headers, letter.properties, self.topology.dlx.name, letter.routing_key
        )

    def _publish(
        self,
        body: bytes,
        headers: dict[str, Any],
        properties: dict[str, Any],
        exchange: str,
        routing_key: str,
    ) -> None:
        if self._pub is None:
            self._pub = self.connection.channel()
            self._pub.events["basic_return"].add(self._on_return)
        props = {k: v for k, v in properties.items() if k in KEPT_PROPERTIES}
        props.setdefault("content_type", "application/json")
        message = AmqpMessage(body, application_headers=headers, delivery_mode=2, **props)
        with self._lock:
            self._returned.clear()
            try:
                # confirm_publish is on for this connection: this returns after the broker's ack
                self._pub.basic_publish(message, exchange=exchange, routing_key=routing_key, mandatory=True)
            except Exception as exc:
                self._pub = None  # a channel error closed it; the next publish opens a new one
                raise DlqError(f"publish to {exchange or '(default)'}/{routing_key} failed: {exc}") from exc
            if self._returned:
                raise DlqError(
                    f"unroutable: no queue takes {exchange or '(default exchange)'} [{routing_key}] "
                    f"({self._returned[0]})"
                )

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.append(str(exc))


# --- operations the CLI and status share ------------------------------------------------------


def collect(
    session: DlqSession,
    flt: DeadLetterFilter | None = None,
    *,
    limit: int | None = None,
    progress: Progress | None = None,
) -> list[Held]:
    return list(session.scan(flt, limit=limit, progress=progress))


def replay_all(
    session: DlqSession,
    held: Iterable[Held],
    progress: Progress | None = None,
    *,
    operation: int | None = None,
) -> ReplayReport:
    """Replay each held dead letter; one that cannot be replayed stays and is reported."""
    report = ReplayReport()
    for item in held:
        try:
            target = session.replay(item, operation=operation)
        except DlqError as exc:
            report.failed.append((item.letter.id, str(exc)))
        else:
            report.replayed.append((item.letter.id, target))
        if progress is not None:
            progress(1)
    return report


def count_by_error_class(
    url: str, topology: Topology, *, max_scan: int = 10_000
) -> tuple[int, int, dict[str, int]]:
    """(depth, scanned, counts by error class): reads at most `max_scan` messages, changes nothing."""
    with DlqSession(url, topology) as session:
        depth = session.depth()
        counts: Counter[str] = Counter(h.letter.error_class for h in session.scan(limit=max_scan))
    return depth, min(depth, sum(counts.values())), dict(counts)


def write_export(held: Iterable[Held], out: IO[str], progress: Progress | None = None) -> int:
    """Write JSON Lines; the dead letters stay in the DLQ."""
    written = 0
    for item in held:
        out.write(json.dumps(item.letter.to_export(), ensure_ascii=False, sort_keys=True) + "\n")
        written += 1
        if progress is not None:
            progress(1)
    return written


def read_export(path: Path, *, prefix: str = "") -> list[DeadLetter]:
    """Parse a whole export file first, so a bad line publishes nothing (ValueError names the line)."""
    letters = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                letters.append(DeadLetter.from_export(record, prefix=prefix))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    return letters
