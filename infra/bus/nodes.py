"""The broker nodes an `AMQP_URL` names.

A cluster is given as kombu's failover list, every node's URL joined by `;`
(`amqp://u:p@rmq1//;amqp://u:p@rmq2//;amqp://u:p@rmq3//`): kombu connects to the first that
answers and moves to the next when a connection is lost. Pure: nothing here connects.
"""

from __future__ import annotations


def broker_urls(amqp_url: str) -> list[str]:
    """Each node's URL, in the order kombu tries them."""
    return [part.strip() for part in amqp_url.split(";") if part.strip()]
