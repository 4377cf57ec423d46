"""The topology as a RabbitMQ definitions document, generated from the code that declares it.

Ops teams like to provision brokers from a definitions file (`load_definitions` or
`rabbitmqctl import_definitions`). Generating it from `Topology` keeps one source of truth; a
test imports the committed file into a fresh vhost and then lets the code declare everything
on top of it, which fails with PRECONDITION_FAILED if a single argument differs.

Regenerate with `python -m infra.bus.definitions > infra/rabbitmq-definitions.json`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kombu import Exchange, Queue

from infra.bus.topology import ALL_WORK_QUEUES, Topology
from infra.settings import BusSettings


def _exchange(exchange: Exchange, vhost: str) -> dict[str, Any]:
    return {
        "name": exchange.name,
        "vhost": vhost,
        "type": exchange.type,
        "durable": bool(exchange.durable),
        "auto_delete": bool(exchange.auto_delete),
        "internal": False,
        "arguments": dict(exchange.arguments or {}),
    }


def _queue(queue: Queue, vhost: str) -> dict[str, Any]:
    return {
        "name": queue.name,
        "vhost": vhost,
        "durable": bool(queue.durable),
        "auto_delete": bool(queue.auto_delete),
        "arguments": dict(queue.queue_arguments or {}),
    }


def _binding(queue: Queue, vhost: str) -> dict[str, Any] | None:
    if queue.exchange is None or not queue.exchange.name:
        return None  # delay queues: only the default exchange reaches them
    return {
        "source": queue.exchange.name,
        "vhost": vhost,
        "destination": queue.name,
        "destination_type": "queue",
        "routing_key": queue.routing_key or "",
        "arguments": {},
    }


def definitions(topology: Topology, vhost: str = "/") -> dict[str, Any]:
    """Exchanges, queues and bindings exactly as `Topology.declare` creates them."""
    queues = topology.all_queues(ALL_WORK_QUEUES)
    bindings = [b for b in (_binding(q, vhost) for q in queues) if b is not None]
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": [_exchange(e, vhost) for e in (topology.events_exchange, topology.dlx)],
        "queues": [_queue(q, vhost) for q in queues],
        "bindings": bindings,
    }


def default_definitions(vhost: str = "/") -> dict[str, Any]:
    """The definitions of a deployment with default bus settings."""
    return definitions(Topology.from_settings(BusSettings()), vhost)


def main() -> None:
    json.dump(default_definitions(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
