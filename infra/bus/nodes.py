"""The broker nodes an `AMQP_URL` names, and how many replicas their quorum queues get.

A cluster is given as kombu's failover list, every node's URL joined by `;`
(`amqp://u:p@rmq1//;amqp://u:p@rmq2//;amqp://u:p@rmq3//`): kombu connects to the first that
answers and moves to the next when a connection is lost. Pure: nothing here connects.
"""

from __future__ import annotations

MAX_QUORUM_REPLICAS = 3  # RabbitMQ's advice: 3 (or 5) replicas; more costs throughput for nothing


def broker_urls(amqp_url: str) -> list[str]:
    """Each node's URL, in the order kombu tries them."""
    return [part.strip() for part in amqp_url.split(";") if part.strip()]


def quorum_group_size(amqp_url: str) -> int | None:
    """`x-quorum-initial-group-size` for a cluster URL: min(3, nodes); None for one node, where the
    broker's own default applies and deployments declared before clusters keep their arguments."""
    nodes = len(broker_urls(amqp_url))
    return min(MAX_QUORUM_REPLICAS, nodes) if nodes > 1 else None
