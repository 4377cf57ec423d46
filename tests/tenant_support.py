"""What the multi-tenant integration tests share: reading each company's simulators and the DLQ."""

from __future__ import annotations

from typing import Any

import pika

from tests.support import Simulators, pika_parameters


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: plain_values(v) if isinstance(v, dict) else v for k, v in values.items() if v is not None}


def markers(sims: Simulators) -> set[str]:
    with sims.bling.lock:
        return {
            str(c.get("codigo"))
            for c in sims.bling.contacts.values()
            if str(c.get("codigo")).startswith("AUVO-")
        }


def auvo_ids(sims: Simulators) -> set[str]:
    with sims.auvo.lock:
        return {str(i) for i in sims.auvo.customers}


def contact_posts(sims: Simulators) -> int:
    return sum(n for (m, resource), n in sims.bling.writes.items() if m == "POST" and "contatos" in resource)


def dlq_headers(url: str, queue: str) -> list[dict[str, Any]]:
    """Every dead letter's headers, read with an independent client (and requeued)."""
    with pika.BlockingConnection(pika_parameters(url)) as conn:
        ch = conn.channel()
        out, tags = [], []
        while True:
            method, props, _ = ch.basic_get(queue, auto_ack=False)
            if method is None:
                break
            out.append(dict(props.headers or {}))
            tags.append(method.delivery_tag)
        for tag in tags:
            ch.basic_nack(tag, requeue=True)
    return out
