"""Moving a deployment from per-tenant queues to the shared topology without losing a message.

Each named tenant's per-tenant queues (`<prefix><tenant>.…`) map onto the shared ones: its work
queue onto the flow's shared work queue, each delay queue onto the shared delay queue of the same
delay (where the shared topology has none of that delay, onto the work queue: the retry comes
early, which an idempotent consumer takes like any retry), its DLQ onto the shared DLQ. The
envelope names its tenant, so the shared consumers hand each moved event to the right one. The
default tenant's queues have the bare prefix: they already are the shared ones.

A message is moved by reading it unacked, publishing it with confirm through the default exchange
to its target with its body and properties (headers, per-message expiration) unchanged, and only
then acking the original, so a crash in between leaves a copy in both places, never in neither.
An emptied source queue is deleted (one that got a message meanwhile stays), then the tenant's
old exchanges. Delay queues of backoff steps the settings no longer name are not known here:
they dead-letter into their old work queue, so change the backoff steps only after the move.
A source queue with consumers is refused: the per-tenant processes must be stopped first, or
they would take messages while they move.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog
from amqp.basic_message import Message as AmqpMessage
from kombu import Connection

from infra.bus.topology import ALL_WORK_QUEUES, Topology

log = structlog.get_logger("bus")


class MoveRefused(Exception):
    """The move cannot start (a source queue is still being consumed)."""


@dataclass(frozen=True)
class Move:
    source: str
    target: str


@dataclass
class Moved:
    source: str
    target: str
    messages: int
    deleted: bool


def planned_moves(old: Topology, new: Topology) -> list[Move]:
    """Every per-tenant queue of `old` and the shared queue of `new` its messages go to."""
    if old.prefix == new.prefix:
        return []  # the default tenant: its queues are the shared ones
    moves = []
    for wq in ALL_WORK_QUEUES:
        work = new.name(wq.name)
        delays = enumerate(new.delays_for(wq))
        shared_delays = {round(delay * 1000): new.delay_queue_name(wq, step) for step, delay in delays}
        # the delay queues first: one that expires meanwhile dead-letters into its old work
        # queue, which must still be there (and is moved after it)
        for step, delay in enumerate(old.delays_for(wq)):
            target = shared_delays.get(round(delay * 1000), work)
            moves.append(Move(old.delay_queue_name(wq, step), target))
        moves.append(Move(old.name(wq.name), work))
    moves.append(Move(old.dlq.name, new.dlq.name))
    return moves


def _depth(connection: Connection, queue: str) -> tuple[int, int] | None:
    """(messages, consumers) of a queue, or None when it does not exist."""
    channel = connection.channel()
    try:
        _, messages, consumers = channel.queue_declare(queue=queue, passive=True)
    except Exception as exc:  # NOT_FOUND closes the channel
        if getattr(exc, "code", None) == 404 or "NOT_FOUND" in str(exc):
            return None
        raise
    finally:
        with contextlib.suppress(Exception):
            channel.close()
    return int(messages), int(consumers)


def move_queues(
    connection: Connection,
    moves: list[Move],
    *,
    progress: Callable[[str, int], None] | None = None,
    dry_run: bool = False,
) -> Iterator[Moved]:
    """Move every message of each existing source queue to its target, then delete the emptied
    source; yields what each move did. Refuses before moving anything if a source has consumers."""
    present: list[tuple[Move, int]] = []
    for move in moves:
        depth = _depth(connection, move.source)
        if depth is None:
            continue
        messages, consumers = depth
        if consumers:
            raise MoveRefused(
                f"{move.source} has {consumers} consumer(s): stop the per-tenant `run`/`consume` "
                "processes before moving their queues"
            )
        present.append((move, messages))
    for move, messages in present:
        if dry_run:
            yield Moved(move.source, move.target, messages, deleted=False)
            continue
        count = _move_one(connection, move, progress)
        yield Moved(move.source, move.target, count, _delete_if_empty(connection, move.source))


def _delete_if_empty(connection: Connection, queue: str, tries: int = 10) -> bool:
    """Delete the emptied queue. Quorum queues refuse `if_empty` (NOT_IMPLEMENTED on 3.10), so the
    queue is read first: empty and unconsumed, it goes (its producers and consumers are stopped,
    as the move requires); a quorum queue may count the last acks a moment late, so a non-empty
    reading is asked again a few times. One that really got a message meanwhile stays."""
    for attempt in range(tries):
        depth = _depth(connection, queue)
        if depth is None:
            return True
        if depth == (0, 0):
            channel = connection.channel()
            try:
                channel.queue_delete(queue=queue)
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
            return _depth(connection, queue) is None
        time.sleep(0.1 * (attempt + 1))
    log.warning("queue kept: not empty", queue=queue)
    return False


def _move_one(connection: Connection, move: Move, progress: Callable[[str, int], None] | None) -> int:
    read = connection.channel()
    write = connection.channel()  # confirm_publish (make_connection): basic_publish waits for the ack
    moved = 0
    try:
        while True:
            message = read.basic_get(queue=move.source, no_ack=False)
            if message is None:
                return moved
            copy = AmqpMessage(message.body, **dict(message.properties or {}))
            write.basic_publish(copy, exchange="", routing_key=move.target, mandatory=True)
            read.basic_ack(delivery_tag=message.delivery_info["delivery_tag"])
            moved += 1
            if progress is not None and moved % 500 == 0:
                progress(move.source, moved)
    finally:
        for channel in (read, write):
            with contextlib.suppress(Exception):
                channel.close()


def delete_exchanges(connection: Connection, old: Topology) -> None:
    """The tenant's old exchanges (a per-tenant publisher still running then fails loudly)."""
    channel = connection.channel()
    try:
        for name in (old.events_exchange.name, old.dlx.name):
            channel.exchange_delete(exchange=name)
    finally:
        with contextlib.suppress(Exception):
            channel.close()
