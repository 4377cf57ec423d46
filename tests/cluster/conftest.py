"""The three-node cluster of issue 21, started once per test session (tests/cluster_support.py).

It fails loudly, with the failing node's log tail, when the cluster cannot be made: these tests
are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster_support import ClusterError, RabbitCluster


@pytest.fixture(scope="session")
def rabbit_cluster() -> Iterator[RabbitCluster]:
    cluster = RabbitCluster(size=3)
    try:
        try:
            cluster.start()
        except ClusterError as exc:
            pytest.fail(f"the three-node RabbitMQ cluster did not start: {exc}", pytrace=False)
        yield cluster
    finally:
        cluster.teardown()


@pytest.fixture
def cluster(rabbit_cluster: RabbitCluster) -> Iterator[RabbitCluster]:
    """The session's cluster, every node running again before and after each test."""
    for node in rabbit_cluster.nodes:
        if not rabbit_cluster.alive(node):
            rabbit_cluster.restart(node)
    yield rabbit_cluster
    for node in rabbit_cluster.nodes:
        if not rabbit_cluster.alive(node):
            rabbit_cluster.restart(node)
        else:
            rabbit_cluster.ctl(node, "start_app")
    rabbit_cluster.wait_running(len(rabbit_cluster.nodes))
