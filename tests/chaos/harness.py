"""What the chaos scenarios share besides the world: sizes, the harness (settings, apps,
subprocess environment, the conclusion with its figures) and the consumer processes SIGKILLed at
random. The `chaos` fixture (tests/chaos/conftest.py) hands a `Chaos` to each scenario.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import Running
from auvo_bling.wiring import App
from infra.settings import Settings
from tests.chaos.world import (
    STAGE,
    Tally,
    World,
    missing,
    read_dlq,
    report,
    seed_world,
    verify,
)
from tests.support import Simulators, build_settings

BLING_RATE = 60  # requests/s the Bling simulator allows and the clients are configured for
RETRY_DELAYS = [0.3, 0.6, 1.0]
MAX_ATTEMPTS = 40  # 20 % errors on several requests per event: never exhausted by bad luck


@dataclass(frozen=True)
class Size:
    customers: int
    contacts: int
    tasks: int
    quotes: int
    timeout: float  # seconds the run may take before the test fails

    def wave(self, fraction: float) -> dict[str, int]:
        return {
            "customers": int(self.customers * fraction),
            "contacts": int(self.contacts * fraction),
            "tasks": int(self.tasks * fraction),
            "quotes": int(self.quotes * fraction),
        }


CI = Size(customers=160, contacts=160, tasks=70, quotes=45, timeout=150)
FULL = Size(customers=500, contacts=500, tasks=220, quotes=140, timeout=600)
SIZES = [pytest.param(CI, id="ci"), pytest.param(FULL, id="full", marks=pytest.mark.chaos_full)]
FIRST_WAVE, SECOND_WAVE = 0.75, 0.25


class Chaos:
    """One scenario's settings, apps, subprocesses and conclusion."""

    def __init__(
        self, amqp_url: str, pg_url: str, bus_prefix: str, sims: Simulators, tmp_path: Path, log: Path
    ) -> None:
        self.amqp_url = amqp_url
        self.pg_url = pg_url
        self.bus_prefix = bus_prefix
        self.sims = sims
        self.tmp_path = tmp_path
        self.log = log
        self.apps: list[App] = []
        sims.bling.rate_limit_per_second = BLING_RATE

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "bus": {
                "retry_delays_seconds": RETRY_DELAYS,
                "max_attempts": MAX_ATTEMPTS,
                "prefix": self.bus_prefix,
            },
            "poll": {"interval_seconds": 0.5, "max_interval_seconds": 1.0, "overlap_seconds": 5},
            "customers": {"direction": "both"},
            "tasks": {"enabled": True},
            "quotes": {"enabled": True, "stage": STAGE},
            "bling": {**self.sims.settings_overrides()["bling"], "requests_per_second": BLING_RATE},
            "auvo": dict(self.sims.settings_overrides()["auvo"]),
            "log_level": "warning",
        }
        for key, value in overrides.items():
            values[key] = {**values[key], **value} if isinstance(value, dict) else value
        return build_settings(self.amqp_url, self.pg_url, self.sims, **values)

    def app(self, **overrides: Any) -> App:
        app = App(self.settings(**overrides))
        self.apps.append(app)
        authorize_headless(app)
        app.declare_topology()
        return app

    def env(self, settings: Settings) -> dict[str, str]:
        """The same settings for `auvo-bling consume` subprocesses."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUVO_BLING_")}
        env.update(self.sims.env())
        env.update(
            {
                "AMQP_URL": settings.amqp_url,
                "DATABASE_URL": settings.database_url,
                "AUVO_BLING_SECRET_KEY": settings.secret_key.get_secret_value()
                if settings.secret_key
                else "",
                "AUVO_BLING_BUS__PREFIX": settings.bus.prefix,
                "AUVO_BLING_BUS__RETRY_DELAYS_SECONDS": json.dumps(list(settings.bus.retry_delays_seconds)),
                "AUVO_BLING_BUS__MAX_ATTEMPTS": str(settings.bus.max_attempts),
                "AUVO_BLING_BUS__PREFETCH": str(settings.bus.prefetch),
                "AUVO_BLING_BLING__REQUESTS_PER_SECOND": str(settings.bling.requests_per_second),
                "AUVO_BLING_CUSTOMERS__DIRECTION": "both",
                "AUVO_BLING_TASKS__ENABLED": "true",
                "AUVO_BLING_QUOTES__ENABLED": "true",
                "AUVO_BLING_QUOTES__STAGE": STAGE,
                "AUVO_BLING_LOG_FORMAT": "json",
                "AUVO_BLING_LOG_LEVEL": "info",  # the figures count retries and redeliveries in it
            }
        )
        return env

    def progress(self, world: World) -> float:
        return 1 - missing(self.sims, world) / world.entities

    def conclude(
        self, name: str, world: World, app: App, figures: dict[str, Any], logs: list[Path]
    ) -> tuple[Tally, str]:
        """After the run stopped: verify both sides and the DLQ, print the figures, assert."""
        tally = verify(self.sims, world)
        dead = read_dlq(self.amqp_url, app.topology)
        outcomes = Counter[str]()
        for counter, value in app.store.counters(app.tenant).items():
            if not counter.startswith("catalog."):
                outcomes[counter.rsplit(".", 1)[-1]] += value
        text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs if p.exists())
        figures = {
            "events": figures.pop("events"),
            "handled": sum(outcomes.values()),
            "retries": figures.pop("retries", None) or text.count('"transient failure, retrying"'),
            "dead_letters": len(dead),
            "redelivered_skipped": figures.pop("redelivered_skipped", None)
            or text.count('"outcome": "skipped_duplicate"'),
            "echoes_dropped": outcomes["skipped_echo"],
            **figures,
        }
        line = report(name, world, figures, tally)
        expected_dead = {str(t["taskID"]) for t in world.invalid_tasks}
        assert tally.ok, tally.summary()
        assert {d.entity_id for d in dead} == expected_dead, [d.__dict__ for d in dead]
        assert {d.error_class for d in dead} == {"ContractViolation"}, [d.__dict__ for d in dead]
        return tally, line

    def close(self) -> None:
        for app in self.apps:
            app.close()


def stop_running(running: Running) -> None:
    running.stop(timeout=30)
    alive = [t.name for t in running.threads if t.is_alive()]
    assert not alive, f"threads did not stop: {alive}"


def producer_events(running: Running) -> int:
    """Events the pollers published (start() creates the producers' publisher last)."""
    return running.publishers[-1].published


def assert_threads_alive(running: Running) -> None:
    dead = [t.name for t in running.threads if not t.is_alive()]
    assert not dead, f"threads died during the run (they must recover by themselves): {dead}"


def seed_second_wave(chaos: Chaos, world: World, size: Size, rng_seed: int) -> World:
    return world.merge(seed_world(chaos.sims, **size.wave(SECOND_WAVE), invalid_tasks=1, rng_seed=rng_seed))


# --- 1. SIGKILL ------------------------------------------------------------------------------------


class ConsumerProcesses:
    """N `auvo-bling consume` processes; `kill_one` SIGKILLs one at random and starts it again."""

    def __init__(self, env: dict[str, str], logs_dir: Path, count: int, rng: random.Random) -> None:
        self.env = env
        self.logs_dir = logs_dir
        self.rng = rng
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.files: list[IO[bytes]] = []
        self.logs: list[Path] = []
        self.kills = 0
        self.started = 0

    def spawn(self, i: int) -> None:
        path = self.logs_dir / f"consumer-{i}-{self.started}.log"
        handle = path.open("wb")
        self.files.append(handle)
        self.logs.append(path)
        self.started += 1
        self.procs[i] = subprocess.Popen(
            [sys.executable, "-m", "auvo_bling.cli", "consume"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )

    def start(self) -> None:
        for i in range(len(self.procs)):
            self.spawn(i)

    def kill_one(self) -> None:
        i = self.rng.randrange(len(self.procs))
        proc = self.procs[i]
        assert proc is not None
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            self.kills += 1
        else:  # it died by itself: that is a finding, the figures show it
            self.crashed = getattr(self, "crashed", 0) + 1
        self.spawn(i)

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is None:
                continue
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for handle in self.files:
            handle.close()
