"""The cluster fixture itself: three nodes that run together, queues replicated on all of them."""

from __future__ import annotations

import pika
import pytest

from tests.cluster_support import RabbitCluster
from tests.support import pika_parameters

pytestmark = pytest.mark.integration


def test_three_nodes_run_as_one_cluster(cluster: RabbitCluster) -> None:
    assert cluster.running_nodes() == sorted(n.name for n in cluster.nodes)
    for url in cluster.urls:
        with pika.BlockingConnection(pika_parameters(url)) as conn:
            assert conn.is_open
