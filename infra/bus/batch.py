"""Publishing a batch with pipelined publisher confirms.

A confirm per message is what makes publishing safe, but waiting for each one before sending
the next costs a network round trip per message. Here the whole batch is sent, then the
broker's acks are collected (one by one or `multiple`); the call returns only when every message
of the batch is confirmed and raises if any was nacked or the wait timed out, so a poller
advances its cursor only after the broker owns the whole page.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from amqp import Message as AmqpMessage
from kombu import Connection


class BatchNotConfirmed(Exception):
    """Some messages of the batch were nacked or never confirmed; publish the batch again."""


@dataclass
class OutgoingMessage:
    body: bytes
    exchange: str
    routing_key: str
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None


class ConfirmTracker:
    """The delivery tags of one batch still waiting for the broker's ack or nack."""

    def __init__(self) -> None:
        self.next_tag = 1  # a channel in confirm mode numbers its publishes from 1
        self.pending: set[int] = set()
        self.nacked: list[int] = []

    def sent(self) -> None:
        self.pending.add(self.next_tag)
        self.next_tag += 1

    def on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def on_nack(self, delivery_tag: int, multiple: bool, *_: Any) -> None:
        self.nacked.extend(self._settle(delivery_tag, multiple))

    def _settle(self, tag: int, multiple: bool) -> list[int]:
        done = [t for t in self.pending if t <= tag] if multiple else [tag] if tag in self.pending else []
        self.pending.difference_update(done)
        return done


class PipelinedChannel:
    """One AMQP channel in confirm mode for batches (not thread-safe: one per thread)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: Connection | None = None
        self.channel: Any = None
        self.tracker = ConfirmTracker()

    def _open(self) -> Any:
        if self.channel is None:
            # no `confirm_publish` transport option: that makes py-amqp wait after every message
            self.connection = Connection(self.url, heartbeat=0, connect_timeout=5)
            self.connection.ensure_connection(max_retries=20, interval_start=0.2, interval_max=3.0)
            channel = self.connection.channel()
            channel.confirm_select()
            self.tracker = ConfirmTracker()
            channel.events["basic_ack"].add(self.tracker.on_ack)
            channel.events["basic_nack"].add(self.tracker.on_nack)
            self.channel = channel
        return self.channel

    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 30.0) -> None:
        if not messages:
            return
        channel = self._open()
        assert self.connection is not None
        try:
            self.tracker.nacked.clear()
            for m in messages:
                props: dict[str, Any] = {
                    "delivery_mode": 2,
                    "content_type": "application/json",
                    "content_encoding": "utf-8",
                    "application_headers": m.headers,
                }
                if m.message_id:
                    props["message_id"] = m.message_id
                channel.basic_publish(
                    AmqpMessage(m.body, **props), exchange=m.exchange, routing_key=m.routing_key
                )
                self.tracker.sent()
            deadline = time.monotonic() + timeout
            while self.tracker.pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BatchNotConfirmed(
                        f"{len(self.tracker.pending)} messages not confirmed in {timeout:.0f} s"
                    )
                try:
                    self.connection.drain_events(timeout=min(remaining, 1.0))
                except TimeoutError:
                    continue
            if self.tracker.nacked:
                raise BatchNotConfirmed(f"the broker refused {len(self.tracker.nacked)} of {len(messages)}")
        except (BatchNotConfirmed, *self.connection.connection_errors, *self.connection.channel_errors):
            self.close()  # a fresh channel next time: no late ack can be counted against a new batch
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.release()
            finally:
                self.connection = None
                self.channel = None
