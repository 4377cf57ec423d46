"""A poll pass that publishes many events one at a time (tasks, quotes, Bling contatos) is a large
batch too: past `bus.bulk_batch_min` its events go to the shared topology's bulk queues, so a
first poll or a catch-up never waits in front of another company's live change."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.events import auvo_customer_changed
from infra.bus.publisher import Publisher
from infra.bus.topology import Topology
from infra.settings import BusSettings
from producers.polling import AdaptiveInterval, poll_pass


class RecordingPublisher(Publisher):
    """The real routing decision, with what would go to the broker written down instead."""

    def __init__(self, topology: Topology) -> None:
        super().__init__("memory://", topology)
        self.keys: list[str] = []

    def publish_raw(self, body: Any, *, routing_key: str, **kwargs: Any) -> None:
        self.keys.append(routing_key)


class OneByOne:
    """A poller that publishes its pass one event at a time (as the task poller does)."""

    name = "auvo.tasks"

    def __init__(self, publisher: Publisher, per_pass: int) -> None:
        self.publisher, self.per_pass, self.passes = publisher, per_pass, 0

    def poll_once(self) -> int:
        self.passes += 1
        for i in range(self.per_pass):
            record = {"id": self.passes * 1000 + i, "description": f"Cliente {i}", "cpfCnpj": "", "email": []}
            self.publisher.publish(auvo_customer_changed(record, tenant="acme"))
        return self.per_pass


def topology(layout: str) -> Topology:
    return Topology.from_settings(BusSettings(topology=layout, bulk_batch_min=20), "memory://")


def test_a_pass_of_many_single_publishes_goes_bulk_past_the_threshold() -> None:
    publisher = RecordingPublisher(topology("shared"))
    poller = OneByOne(publisher, 25)
    poll_pass(poller, AdaptiveInterval.fixed(1.0))
    assert publisher.keys[:19] == ["auvo.customer.changed"] * 19
    assert publisher.keys[19:] == ["bulk.auvo.customer.changed"] * 6
    # the next pass counts from zero: a live change after the first poll goes live
    poller.per_pass = 1
    poll_pass(poller, AdaptiveInterval.fixed(1.0))
    assert publisher.keys[-1] == "auvo.customer.changed"


@pytest.mark.parametrize("layout", ["shared", "per_tenant"])
def test_outside_a_pass_and_in_the_per_tenant_layout_events_go_live(layout: str) -> None:
    publisher = RecordingPublisher(topology(layout))
    for i in range(25):  # a webhook receiver publishes one by one, outside any poll pass
        publisher.publish(auvo_customer_changed({"id": i, "description": "x", "cpfCnpj": "", "email": []}))
    if layout == "per_tenant":
        poll_pass(OneByOne(publisher, 25), AdaptiveInterval.fixed(1.0))
    assert set(publisher.keys) == {"auvo.customer.changed"}
