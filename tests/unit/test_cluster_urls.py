"""A cluster's AMQP_URL (every node, `;`-joined) and the replica count its quorum queues get."""

from __future__ import annotations

import pytest

from infra.bus.nodes import broker_urls, quorum_group_size
from infra.bus.topology import TO_BLING_ORDERS, Topology
from infra.settings import Settings
from tests.ops_support import config_file_is_the_truth

ONE = "amqp://u:p@rmq1:5672//"
THREE = "amqp://u:p@rmq1:5672//;amqp://u:p@rmq2:5672//; amqp://u:p@rmq3:5672//"
FIVE = ";".join(f"amqp://u:p@rmq{i}//" for i in range(5))


def test_every_node_of_the_list_in_kombus_order() -> None:
    assert broker_urls(THREE) == ["amqp://u:p@rmq1:5672//", "amqp://u:p@rmq2:5672//", "amqp://u:p@rmq3:5672//"]
    assert broker_urls(ONE) == [ONE]


@pytest.mark.parametrize(("url", "replicas"), [(ONE, None), (THREE, 3), (FIVE, 3), ("memory://", None)])
def test_replicas_are_min_three_nodes_and_absent_for_one_node(url: str, replicas: int | None) -> None:
    assert quorum_group_size(url) == replicas


def test_a_cluster_topology_declares_every_quorum_queue_with_its_replicas() -> None:
    from infra.settings import BusSettings

    topology = Topology.from_settings(BusSettings(), THREE)
    queues = [topology.dlq, topology.work_queue(TO_BLING_ORDERS), *topology.delay_queues(TO_BLING_ORDERS)]
    assert all(q.queue_arguments["x-quorum-initial-group-size"] == 3 for q in queues)
    single = Topology.from_settings(BusSettings(), ONE)
    assert "x-quorum-initial-group-size" not in single.work_queue(TO_BLING_ORDERS).queue_arguments


def test_a_cluster_list_with_a_non_amqp_node_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    config_file_is_the_truth(monkeypatch)
    assert Settings(amqp_url=THREE).amqp_url == THREE
    with pytest.raises(ValueError, match="joined by ';'"):
        Settings(amqp_url=f"{ONE};http://rmq2")
