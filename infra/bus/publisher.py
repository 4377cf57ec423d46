"""Publishing with publisher confirms, the same code on RabbitMQ and on kombu's memory transport.

Every publish is persistent and, on AMQP, waits for the broker's confirm (py-amqp's
`confirm_publish`), so a producer only advances its cursor after the broker owns the message.
Connection loss is retried through kombu's `ensure`; a publish that was sent but not confirmed is
sent again, which consumers absorb because they are idempotent.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import structlog
from kombu import Connection, Exchange, Producer

from contracts.envelope import Envelope
from infra import metrics
from infra.bus.batch import OutgoingMessage, PipelinedChannel
from infra.bus.failover import FailoverClock
from infra.bus.poll_batches import batch_size as _batch_size
from infra.bus.topology import Topology
from infra.logging import scrub

log = structlog.get_logger("publisher")

_RETRY_POLICY = {"max_retries": 20, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 3.0}


def is_memory_url(url: str) -> bool:
    return url.startswith("memory://")


def make_connection(url: str) -> Connection:
    """A kombu connection with confirms on (AMQP) and no heartbeats to miss during long writes."""
    if is_memory_url(url):
        return Connection("memory://")
    return Connection(
        url,
        transport_options={"confirm_publish": True},
        heartbeat=0,
        connect_timeout=5,
    )


class Publisher:
    """Thread-safe publisher on its own connection (kombu connections are not shared by threads)."""

    def __init__(self, url: str, topology: Topology, *, retry_policy: dict[str, Any] | None = None) -> None:
        """`retry_policy` bounds how long a publish retries a lost connection (kombu `ensure`).

        The pollers can wait out a broker restart (default: ~a minute); the webhook receiver must
        answer within the sender's timeout (Bling: 5 s), so it passes a short policy and answers
        5xx instead, letting the sender retry.
        """
        self.url = url
        self.topology = topology
        self.retry_policy = dict(retry_policy or _RETRY_POLICY)
        self._connection = make_connection(url)
        self._producer: Producer | None = None
        self._pipeline: PipelinedChannel | None = None
        self._lock = threading.Lock()
        self.published = 0
        self.failover = FailoverClock("publisher")

    def _get_producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self._connection.default_channel)
        return self._producer

    def publish(self, envelope: Envelope, *, batch: int = 1) -> None:
        """Publish one event to the events exchange, keyed by its type (by the topology: one of a
        large `batch` goes to the bulk queues); returns after the confirm."""
        self.publish_raw(
            envelope.to_json(),
            exchange=self.topology.events_exchange,
            routing_key=self.topology.routing_key(envelope.type, _batch_size(batch)),
            headers={"event_id": envelope.event_id, "tenant": envelope.tenant, "x-attempts": 0},
            message_id=envelope.event_id,
        )
        metrics.PUBLISHED.labels(event_type=envelope.type).inc()

    def publish_raw(
        self,
        body: bytes | str,
        *,
        exchange: Exchange | str,
        routing_key: str,
        headers: dict[str, Any] | None = None,
        message_id: str | None = None,
        expiration: float | None = None,
        content_type: str = "application/json",
    ) -> None:
        with self._lock:
            producer = self._get_producer()
            publish = self._connection.ensure(
                producer, producer.publish, errback=self._connection_lost, **self.retry_policy
            )
            kwargs: dict[str, Any] = {}
            if message_id:
                kwargs["message_id"] = message_id
            if expiration is not None:
                kwargs["expiration"] = expiration
            publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                headers=headers or {},
                delivery_mode=2,
                content_type=content_type,
                content_encoding="utf-8",
                serializer=None,
                **kwargs,
            )
            self.published += 1
            self.failover.restored()

    def _connection_lost(self, exc: Exception, interval: float) -> None:
        """kombu's errback: the publish is sent again (to the next node of a cluster's list)."""
        self.failover.lost()
        log.warning("broker connection lost while publishing; sending again", error=scrub(str(exc)))

    def publish_batch(self, envelopes: Sequence[Envelope]) -> None:
        """Publish many events, returning when the broker confirmed all of them.

        On AMQP the confirms are pipelined (`infra.bus.batch`): the whole batch goes out, then the
        acks are collected, instead of a round trip per message. If the batch is not confirmed
        whole, it is published again one by one with per-message confirms (duplicates are
        harmless: event ids are deterministic and consumers idempotent).
        """
        if not envelopes:
            return
        if is_memory_url(self.url):
            for envelope in envelopes:
                self.publish(envelope, batch=len(envelopes))
            return
        sizes = [_batch_size(len(envelopes)) for _ in envelopes]
        messages = [
            OutgoingMessage(
                e.to_json(),
                self.topology.events_exchange.name,
                self.topology.routing_key(e.type, size),
                {"event_id": e.event_id, "tenant": e.tenant, "x-attempts": 0},
                e.event_id,
            )
            for e, size in zip(envelopes, sizes, strict=True)
        ]
        with self._lock:
            if self._pipeline is None:
                self._pipeline = PipelinedChannel(self.url)
            try:
                self._pipeline.publish(messages)
            except Exception as exc:  # fall back to the slow, per-message path below
                log.warning("batch not confirmed; publishing one by one", error=scrub(str(exc)))
                self.failover.lost()
                pipelined = False
            else:
                pipelined = True
                self.published += len(messages)
                self.failover.restored()
        if not pipelined:
            for envelope in envelopes:
                self.publish(envelope, batch=len(envelopes))
            return
        for envelope in envelopes:
            metrics.PUBLISHED.labels(event_type=envelope.type).inc()

    def close(self) -> None:
        with self._lock:
            if self._pipeline is not None:
                self._pipeline.close()
            self._connection.release()
