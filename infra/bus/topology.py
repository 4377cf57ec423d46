"""The RabbitMQ topology, declared by code (and mirrored in infra/rabbitmq-definitions.json).

- `auvo-bling.events`: durable topic exchange; producers publish with the event type as key.
- one durable quorum work queue per consumer, bound by event type, with `x-delivery-limit`
  (a message that keeps killing its consumer is dead-lettered by the broker) and the DLX.
- retry delay queues, one per (work queue, backoff step): a retried message waits there until
  its TTL expires and is dead-lettered through the default exchange straight back to *its own*
  work queue (never to every queue bound to the event type).
- `auvo-bling.dlx` (fanout) -> `auvo-bling.dlq`: what cannot succeed, with its diagnosis.

Two layouts (`bus.topology`). "per_tenant": each named tenant has all of the above under its own
prefix, so the broker's cost grows with the tenants (29 quorum queues each). "shared": one set
for every tenant, whatever their number; the tenant travels in each message (envelope and
`tenant` header), the consumers route it to that tenant's handler and gate, and each flow has a
second, *bulk* work queue (`<queue>.bulk`, routing key `bulk.<event type>`) that takes what a poll
publishes in one large batch (a first poll of 50,000 customers, a catch-up). Live changes keep
their own queue and their own consumers, so one company's backlog never waits in front of
another company's live change.

On `memory://` kombu ignores queue arguments, so TTL and delivery limits do not exist there;
the runner schedules retries in-process instead (see runner.InProcessDelay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kombu import Connection, Exchange, Queue

from contracts.events import (
    AUVO_CUSTOMER_CHANGED,
    AUVO_EXPENSE_RECORDED,
    AUVO_QUOTE_STATUS_REACHED,
    AUVO_TASK_STATUS_REACHED,
    BLING_CONTACT_CHANGED,
    BLING_ORDER_OUTCOME,
    BLING_PRODUCT_CHANGED,
)

EVENTS_EXCHANGE_NAME = "auvo-bling.events"
DLX_NAME = "auvo-bling.dlx"
DLQ_NAME = "auvo-bling.dlq"
BULK_SUFFIX = ".bulk"
BULK_KEY_PREFIX = "bulk."


@dataclass(frozen=True)
class WorkQueue:
    """One flow's queue and the event type it receives.

    `flow` is the flow's stable id: processed events, applied versions, write intents and counters
    are kept under it, so the queue `name` stays a deployment detail that can change without
    making a processed event look new. (auvo_bling/flows.py declares what each flow runs.)
    """

    name: str
    event_type: str
    flow: str
    # the flow's bulk work queue (shared topology): same flow and handler, its own queue and key
    bulk: bool = False

    @property
    def routing_key(self) -> str:
        return f"{BULK_KEY_PREFIX}{self.event_type}" if self.bulk else self.event_type

    @property
    def base_name(self) -> str:
        """The flow's queue name (the live one's): what retry overrides, DLQ views and replays name."""
        return self.name.removesuffix(BULK_SUFFIX) if self.bulk else self.name

    def as_bulk(self) -> WorkQueue:
        return WorkQueue(f"{self.name}{BULK_SUFFIX}", self.event_type, self.flow, bulk=True)


TO_BLING_CONTACTS = WorkQueue("to-bling.contacts", AUVO_CUSTOMER_CHANGED, "customers.auvo_to_bling")
TO_AUVO_CUSTOMERS = WorkQueue("to-auvo.customers", BLING_CONTACT_CHANGED, "customers.bling_to_auvo")
TO_BLING_ORDERS = WorkQueue("to-bling.orders", AUVO_TASK_STATUS_REACHED, "sales.task_to_pedido")
TO_BLING_PROPOSALS = WorkQueue("to-bling.proposals", AUVO_QUOTE_STATUS_REACHED, "sales.quote_to_bling")
TO_BLING_PAYABLES = WorkQueue("to-bling.payables", AUVO_EXPENSE_RECORDED, "payables.expense_to_conta")
# the company's Bling catalogue -> Auvo products and services (issue 17, item 2)
TO_AUVO_CATALOG = WorkQueue("to-auvo.catalog", BLING_PRODUCT_CHANGED, "products.bling_to_auvo")

# the job's outcome back on the Auvo task (issue 17, item 3)
TO_AUVO_TASK_OUTCOMES = WorkQueue("to-auvo.task-outcomes", BLING_ORDER_OUTCOME, "sales.pedido_outcome")

ALL_WORK_QUEUES = (
    TO_BLING_CONTACTS,
    TO_AUVO_CUSTOMERS,
    TO_BLING_ORDERS,
    TO_BLING_PROPOSALS,
    TO_BLING_PAYABLES,
    TO_AUVO_CATALOG,

    TO_AUVO_TASK_OUTCOMES,
)


class Topology:
    """Names and kombu entities for one deployment; `prefix` isolates test runs on a shared broker."""

    def __init__(
        self,
        *,
        prefix: str = "",
        delivery_limit: int = 10,
        retry_delays: list[float] | None = None,
        queue_delays: dict[str, list[float]] | None = None,
        shared: bool = False,
        tenant: str | None = None,
        bulk_batch_min: int = 20,
    ):
        self.prefix = prefix
        # shared: one set of queues for every tenant; `tenant` is whose view this is (the DLQ is
        # read filtered by it), None for a process that serves them all
        self.shared = shared
        self.tenant = tenant
        self.bulk_batch_min = bulk_batch_min
        self.delivery_limit = delivery_limit
        self.retry_delays = list(retry_delays or [5.0, 30.0, 120.0, 600.0, 3600.0])
        # per-consumer backoff steps (bus.overrides): their delay queues get their own TTLs
        self.queue_delays = {name: list(d) for name, d in (queue_delays or {}).items()}
        self.events_exchange = Exchange(self.name(EVENTS_EXCHANGE_NAME), type="topic", durable=True)
        self.dlx = Exchange(self.name(DLX_NAME), type="fanout", durable=True)
        self.dlq = Queue(
            self.name(DLQ_NAME),
            exchange=self.dlx,
            routing_key="#",
            durable=True,
            queue_arguments=self._quorum({}),
        )

    def _quorum(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """A quorum queue's arguments: the same on one node and on a cluster.

        No `x-quorum-initial-group-size`: the broker's default already places a quorum queue on
        up to three nodes of the cluster (the three-node chaos test checks every queue has all
        three), and the argument takes part in RabbitMQ's equivalence check, so a deployment whose
        queues were declared on one node, or with another node count, would be refused with
        PRECONDITION_FAILED at its next start after its AMQP_URL became a list (seen on 3.10.8).
        """
        return {"x-queue-type": "quorum", **arguments}

    @classmethod
    def from_settings(cls, bus: Any, amqp_url: str = "", tenant: str | None = None) -> Topology:
        """The topology a `BusSettings` describes, per-consumer retry overrides included (`amqp_url`,
        one node or a cluster's failover list, does not change it: see `_quorum`)."""
        return cls(
            shared=getattr(bus, "topology", "per_tenant") == "shared",
            tenant=tenant,
            bulk_batch_min=getattr(bus, "bulk_batch_min", 20),
            prefix=bus.prefix,
            delivery_limit=bus.delivery_limit,
            retry_delays=bus.retry_delays_seconds,
            queue_delays={
                name: o.retry_delays_seconds
                for name, o in bus.overrides.items()
                if o.retry_delays_seconds is not None
            },
        )

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def base_name(self, full: str) -> str:
        """A queue's name without this deployment's prefix (what `x-consumer` headers carry)."""
        return full[len(self.prefix) :] if self.prefix and full.startswith(self.prefix) else full

    def delays_for(self, wq: WorkQueue) -> list[float]:
        return self.queue_delays.get(wq.base_name, self.retry_delays)

    def consumed(self, work_queues: tuple[WorkQueue, ...] = ALL_WORK_QUEUES) -> tuple[WorkQueue, ...]:
        """The work queues behind these flows: with the shared topology, each one's bulk queue too."""
        if not self.shared:
            return tuple(work_queues)
        return tuple(q for wq in work_queues for q in (wq, wq.as_bulk()))

    def routing_key(self, event_type: str, batch: int = 1) -> str:
        """Where an event published in a batch of `batch` goes: a large batch to the bulk queues."""
        if self.shared and batch >= self.bulk_batch_min:
            return f"{BULK_KEY_PREFIX}{event_type}"
        return event_type

    def work_queue(self, wq: WorkQueue) -> Queue:
        return Queue(
            self.name(wq.name),
            exchange=self.events_exchange,
            routing_key=wq.routing_key,
            durable=True,
            queue_arguments=self._quorum(
                {
                    "x-delivery-limit": self.delivery_limit,
                    "x-dead-letter-exchange": self.dlx.name,
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                }
            ),
        )

    def delay_queue_name(self, wq: WorkQueue, step: int) -> str:
        """Named by its delay, not its position: changing the backoff steps of a running deployment
        declares new delay queues instead of colliding with the old ones' TTL (PRECONDITION_FAILED);
        the old ones simply drain back into the work queue."""
        delay_ms = round(self.delays_for(wq)[step] * 1000)
        return f"{self.name(wq.name)}.retry.{delay_ms}ms"

    def delay_queues(self, wq: WorkQueue) -> list[Queue]:
        """Queues without consumers whose expired messages go back to the work queue."""
        queues = []
        for step, delay in enumerate(self.delays_for(wq)):
            queues.append(
                Queue(
                    self.delay_queue_name(wq, step),
                    durable=True,
                    queue_arguments=self._quorum(
                        {
                            # upper bound: jittered per-message expirations stay below it
                            "x-message-ttl": int(delay * 1000 * 1.25) + 1,
                            "x-dead-letter-exchange": "",
                            "x-dead-letter-routing-key": self.name(wq.name),
                            "x-dead-letter-strategy": "at-least-once",
                            "x-overflow": "reject-publish",
                        }
                    ),
                )
            )
        return queues

    def all_queues(self, work_queues: tuple[WorkQueue, ...] = ALL_WORK_QUEUES) -> list[Queue]:
        out = [self.dlq]
        for wq in self.consumed(work_queues):
            out.append(self.work_queue(wq))
            out.extend(self.delay_queues(wq))
        return out

    def declare(self, connection: Connection, work_queues: tuple[WorkQueue, ...] = ALL_WORK_QUEUES) -> None:
        """Declare exchanges and queues; idempotent, so every process may do it at start."""
        with connection.channel() as channel:
            self.events_exchange(channel).declare()
            self.dlx(channel).declare()
            for queue in self.all_queues(work_queues):
                queue(channel).declare()
