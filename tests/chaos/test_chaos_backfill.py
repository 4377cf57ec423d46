"""Chaos scenario 5 (issue 15): `auvo-bling backfill` beside live consumers, everything SIGKILLed.

The world of the other scenarios (customers both ways, tasks, quotes), the pollers running, three
`auvo-bling consume` processes killed at random every 1-2 s, and the backfill started beside them:
it is SIGKILLed once mid-run and started again (its resume), which must end with exit 0. The
backfill and the consumers write the same contatos and Auvo customers through the same writers, so
the invariant is the one of every scenario: each source entity exactly once on the other side.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

from auvo_bling.runtime import start
from tests.chaos.harness import (
    FIRST_WAVE,
    SIZES,
    Chaos,
    ConsumerProcesses,
    Size,
    assert_threads_alive,
    producer_events,
    seed_second_wave,
    stop_running,
)
from tests.chaos.world import seed_world, settle

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("size", SIZES)
def test_backfill_beside_consumers_with_sigkills(chaos: Chaos, size: Size) -> None:
    world = seed_world(chaos.sims, **size.wave(FIRST_WAVE), rng_seed=51)
    app = chaos.app(bus={"prefetch": 4})
    env = chaos.env(app.settings)
    producer = start(app, consumers=False)
    consumers = ConsumerProcesses(env, chaos.tmp_path, 3, random.Random(52))
    backfill_cmd = [sys.executable, "-m", "auvo_bling.cli", "backfill", "--quiet", "--json"]
    backfill_logs = [chaos.tmp_path / f"backfill-{i}.log" for i in range(2)]
    began = time.monotonic()
    second_wave = False
    runs: list[int] = []
    backfill: subprocess.Popen[bytes] | None = None
    try:
        consumers.start()
        with backfill_logs[0].open("wb") as log:
            backfill = subprocess.Popen(backfill_cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
            time.sleep(consumers.rng.uniform(1.5, 3.0))  # into its index or write phase
            if backfill.poll() is None:
                backfill.send_signal(signal.SIGKILL)
            runs.append(backfill.wait(30))
        with backfill_logs[1].open("wb") as log:
            backfill = subprocess.Popen(backfill_cmd, env=env, stdout=subprocess.PIPE, stderr=log)
            while backfill.poll() is None and time.monotonic() - began < size.timeout:
                time.sleep(consumers.rng.uniform(1.0, 2.0))
                if not second_wave and chaos.progress(world) >= 0.4:
                    world = seed_second_wave(chaos, world, size, rng_seed=53)
                    second_wave = True
                consumers.kill_one()
            runs.append(backfill.wait(60))
        while time.monotonic() - began < size.timeout and chaos.progress(world) < 1.0:
            if not second_wave:
                world = seed_second_wave(chaos, world, size, rng_seed=53)
                second_wave = True
            time.sleep(consumers.rng.uniform(1.0, 2.0))
            consumers.kill_one()
        settle(chaos.sims, world, chaos.amqp_url, app.topology, timeout=max(30.0, size.timeout / 3))
        took = time.monotonic() - began
        assert_threads_alive(producer)
    finally:
        if backfill is not None and backfill.poll() is None:
            backfill.kill()
        consumers.stop()
        stop_running(producer)
    assert runs[-1] == 0, backfill_logs[1].read_text(errors="replace")[-2000:]
    chaos.conclude(
        "backfill_sigkill",
        world,
        app,
        {
            "events": producer_events(producer),
            "kills": consumers.kills + (1 if runs[0] == -signal.SIGKILL else 0),
            "backfill_runs": len(runs),
            "backfill_exit": runs[-1],
            "processes_started": consumers.started,
            "seconds": round(took, 1),
        },
        consumers.logs,
    )
