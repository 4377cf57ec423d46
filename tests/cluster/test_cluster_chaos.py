"""Issue 21: the whole flow on a three-node cluster while its nodes fail.

The bus is given every node's URL (`AMQP_URL` as kombu's failover list) and declares its quorum
queues with three replicas. One scenario, all flows running (customers both ways, tasks, quotes):
SIGKILL of the node that leads most quorum queues, a second wave seeded while it is down, its
restart; then `rabbitmqctl stop_app` on another node (what a partitioned node does to its clients:
it drops them) and `start_app`. The invariant is the chaos suite's (world.verify: nothing lost,
duplicated or wrong; the DLQ holds exactly the invalid tasks); the figures add the failover times
the publishers and consumers saw (their FailoverClocks). Smaller than the single-node scenarios
(about a third of their CI size) to stay within ~2 minutes on 2 cores.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from auvo_bling.runtime import start
from tests.chaos.harness import Chaos, Size, assert_threads_alive, producer_events, stop_running
from tests.chaos.world import REPORTED, seed_world, settle, wait_synced
from tests.cluster_support import RabbitCluster
from tests.support import Simulators

pytestmark = pytest.mark.integration

CLUSTER = Size(customers=50, contacts=50, tasks=24, quotes=15, timeout=120)


@pytest.fixture
def cluster_chaos(
    cluster: RabbitCluster, pg_url: str, sims: Simulators, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Iterator[Chaos]:
    caplog.set_level(logging.ERROR, logger="kombu")  # "connection lost" tracebacks are expected here
    log = tmp_path / "in-process.log"
    log.touch()
    harness = Chaos(cluster.amqp_url, pg_url, "cluster.", sims, tmp_path, log)
    try:
        yield harness
    finally:
        harness.close()


def _failover_figures(running: object) -> dict[str, float]:
    publishers = [d for p in running.publishers for d in p.failover.durations]  # type: ignore[attr-defined]
    consumers = [d for w in running.workers for d in w.failover.durations]  # type: ignore[attr-defined]
    return {
        "publisher_failovers": len(publishers),
        "publisher_failover_max_s": round(max(publishers, default=0.0), 2),
        "consumer_failovers": len(consumers),
        "consumer_failover_max_s": round(max(consumers, default=0.0), 2),
    }


def test_node_killed_then_one_stopped_while_every_flow_runs(
    cluster_chaos: Chaos, cluster: RabbitCluster
) -> None:
    chaos, size = cluster_chaos, CLUSTER
    world = seed_world(chaos.sims, **size.wave(0.75), rng_seed=51)
    app = chaos.app()
    nodes = sorted(n.name for n in cluster.nodes)
    queues = [q.name for q in app.topology.all_queues()]
    for name in queues:
        assert cluster.members(name) == nodes, f"{name} is not replicated on every node"
    running = start(app, worker_threads=2)
    began = time.monotonic()
    try:
        wait_synced(chaos.sims, world, size.timeout, "30 % of the world synced", fraction=0.3)
        leaders = Counter(cluster.leaders("cluster.").values())
        victim = cluster.node_named(leaders.most_common(1)[0][0])
        cluster.kill(victim)
        killed_at = time.monotonic()
        world = world.merge(seed_world(chaos.sims, **size.wave(0.25), invalid_tasks=1, rng_seed=52))
        wait_synced(chaos.sims, world, size.timeout, "60 % synced with a node dead", fraction=0.6)
        new_leaders = set(cluster.leaders("cluster.").values())
        assert victim.name not in new_leaders, "a dead node still leads a queue"
        cluster.restart(victim)
        down = time.monotonic() - killed_at
        stopped = next(n for n in cluster.nodes if n is not victim)
        cluster.ctl(stopped, "stop_app")
        time.sleep(3.0)
        cluster.ctl(stopped, "start_app")
        cluster.wait_running(len(cluster.nodes))
        settle(chaos.sims, world, chaos.amqp_url, app.topology, timeout=size.timeout)
        took = time.monotonic() - began
        assert_threads_alive(running)
        stats = running.consumer_stats()
    finally:
        stop_running(running)
    figures = _failover_figures(running)
    chaos.conclude(
        "cluster-node-loss",
        world,
        app,
        {
            "events": producer_events(running),
            "retries": stats.get("retried", 0),
            "redelivered_skipped": stats.get("skipped_duplicate", 0),
            "killed_leader_of": leaders[victim.name],
            "node_down_seconds": round(down, 1),
            **figures,
            "seconds": round(took, 1),
        },
        [chaos.log],
    )
    assert figures["consumer_failovers"] > 0, "no consumer lost its node: the scenario did not test failover"
    assert any(line.startswith("CHAOS cluster-node-loss") for line in REPORTED)
