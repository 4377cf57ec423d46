"""A cluster's AMQP_URL (every node, `;`-joined), and a topology that does not change with it."""

from __future__ import annotations

import pytest

from infra.bus.nodes import broker_urls
from infra.bus.topology import TO_BLING_ORDERS, Topology
from infra.settings import Settings
from tests.ops_support import config_file_is_the_truth

ONE = "amqp://u:p@rmq1:5672//"
THREE = "amqp://u:p@rmq1:5672//;amqp://u:p@rmq2:5672//; amqp://u:p@rmq3:5672//"
FIVE = ";".join(f"amqp://u:p@rmq{i}//" for i in range(5))


def test_every_node_of_the_list_in_kombus_order() -> None:
    assert broker_urls(THREE) == ["amqp://u:p@rmq1:5672//", "amqp://u:p@rmq2:5672//", "amqp://u:p@rmq3:5672//"]
    assert broker_urls(ONE) == [ONE]


def test_a_cluster_declares_the_same_queue_arguments_as_one_node() -> None:
    """A deployment moving from one node to a cluster list redeclares its queues: any argument that
    differs (RabbitMQ 3.10 compares `x-quorum-initial-group-size` too) is PRECONDITION_FAILED."""
    from infra.settings import BusSettings

    def arguments(url: str) -> list[dict[str, object]]:
        topology = Topology.from_settings(BusSettings(), url)
        queues = [topology.dlq, topology.work_queue(TO_BLING_ORDERS), *topology.delay_queues(TO_BLING_ORDERS)]
        return [dict(q.queue_arguments) for q in queues]

    assert arguments(THREE) == arguments(ONE) == arguments(FIVE)
    assert all(a["x-queue-type"] == "quorum" for a in arguments(THREE))


def test_a_cluster_list_with_a_non_amqp_node_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    config_file_is_the_truth(monkeypatch)
    assert Settings(amqp_url=THREE).amqp_url == THREE
    with pytest.raises(ValueError, match="joined by ';'"):
        Settings(amqp_url=f"{ONE};http://rmq2")
