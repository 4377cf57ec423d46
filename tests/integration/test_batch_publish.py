"""Pipelined confirms: a batch returns only when the broker owns every message of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection

from infra.bus.batch import BatchNotConfirmed, OutgoingMessage, PipelinedChannel

pytestmark = pytest.mark.integration


@pytest.fixture
def queue(amqp_url: str) -> Iterator[str]:
    name = f"batch-test-{uuid.uuid4().hex[:8]}"
    with Connection(amqp_url) as conn, conn.channel() as channel:
        channel.queue_declare(
            name,
            durable=True,
            auto_delete=False,
            arguments={"x-max-length": 150, "x-overflow": "reject-publish"},  # classic: exact limit
        )
    yield name
    with Connection(amqp_url) as conn, conn.channel() as channel:
        channel.queue_delete(name)


def depth(amqp_url: str, queue: str) -> int:
    with Connection(amqp_url) as conn, conn.channel() as channel:
        return channel.queue_declare(queue, passive=True).message_count


def batch(queue: str, n: int) -> list[OutgoingMessage]:
    return [OutgoingMessage(json.dumps({"i": i}).encode(), "", queue, {"n": i}, f"id-{i}") for i in range(n)]


def test_every_message_of_each_batch_is_confirmed(amqp_url: str, queue: str) -> None:
    channel = PipelinedChannel(amqp_url)
    try:
        channel.publish(batch(queue, 100))
        channel.publish(batch(queue, 40))
    finally:
        channel.close()
    assert depth(amqp_url, queue) == 140


def test_a_refused_message_fails_the_batch_and_the_next_batch_works(amqp_url: str, queue: str) -> None:
    channel = PipelinedChannel(amqp_url)
    try:
        channel.publish(batch(queue, 140))
        with pytest.raises(BatchNotConfirmed, match="refused 20 of 30"):
            channel.publish(batch(queue, 30))  # the queue holds at most 150: 20 are nacked
        with Connection(amqp_url) as conn, conn.channel() as ch:
            ch.queue_purge(queue)
        channel.publish(batch(queue, 100))  # a fresh channel; tags restart, nothing miscounted
    finally:
        channel.close()
    assert depth(amqp_url, queue) == 100
