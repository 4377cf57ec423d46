"""The chaos suite's own plumbing: the opt-in `chaos_full` variants, quiet in-process logs, and
simulators whose timed-out writes really land (and can be made to land late on purpose: gates.py).

`pytest tests/chaos` runs the default (CI-sized) variants; `pytest -m chaos_full tests/chaos` runs the
larger ones, which are deselected otherwise (they take several minutes each on a 2-core machine).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from infra.logging import configure_logging
from simulators.auvo import AuvoState, create_auvo_app
from simulators.bling import BlingState, create_bling_app
from simulators.server import serve_in_thread
from tests.chaos.gates import BufferedBody
from tests.chaos.harness import Chaos
from tests.support import CLIENT_ID, CLIENT_SECRET, REDIRECT, Simulators, build_settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "chaos_full" in (config.getoption("markexpr", "") or ""):
        return
    full = [item for item in items if item.get_closest_marker("chaos_full") is not None]
    if full:
        config.hook.pytest_deselected(items=full)
        items[:] = [item for item in items if item.get_closest_marker("chaos_full") is None]


@pytest.fixture
def chaos_log(tmp_path: Path) -> Iterator[Path]:
    """Warnings and errors of the in-process producers and consumers go to a file, as JSON lines:
    thousands of `handled` lines would bury the figures, and the file is what the figures count."""
    saved = structlog.get_config()
    path = tmp_path / "in-process.log"
    stream = path.open("a", encoding="utf-8", buffering=1)
    configure_logging("json", "warning", stream=stream)
    try:
        yield path
    finally:
        structlog.configure(**saved)
        stream.close()


@pytest.fixture
def sims() -> Iterator[Simulators]:
    """The shared `sims` fixture, with `BufferedBody` in front of both simulators (`sims.auvo_gate`,
    `sims.bling_gate`)."""
    auvo = AuvoState(rate_limit_per_minute=6000)
    bling = BlingState(rate_limit_per_second=40)
    bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT)
    auvo_gate, bling_gate = BufferedBody(create_auvo_app(auvo)), BufferedBody(create_bling_app(bling))
    auvo_server = serve_in_thread(auvo_gate)
    bling_server = serve_in_thread(bling_gate)
    try:
        pair = Simulators(auvo, bling, auvo_server, bling_server)
        pair.auvo_gate, pair.bling_gate = auvo_gate, bling_gate  # type: ignore[attr-defined]
        yield pair
    finally:
        auvo_server.stop()
        bling_server.stop()


@pytest.fixture
def local_app(sims: Simulators, tmp_path: Path) -> Iterator[Callable[..., App]]:
    """Authorized apps on SQLite and the memory bus, for the tests that need neither broker nor PG."""
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        db = tmp_path / f"store-{len(apps)}.sqlite3"
        app = App(build_settings("memory://", f"sqlite:///{db}", sims, **overrides))
        apps.append(app)
        authorize_headless(app)
        return app

    yield make
    for app in apps:
        app.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The chaos figures (events, retries, dead letters, duplicates, lost) in every run's log."""
    from tests.chaos.world import REPORTED

    if REPORTED:
        terminalreporter.section("chaos figures")
        for line in REPORTED:
            terminalreporter.write_line(line)


@pytest.fixture
def chaos(
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    sims: Simulators,
    tmp_path: Path,
    chaos_log: Path,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Chaos]:
    caplog.set_level(logging.ERROR, logger="kombu")  # "connection lost" tracebacks are expected here
    harness = Chaos(amqp_url, pg_url, bus_prefix, sims, tmp_path, chaos_log)
    try:
        yield harness
    finally:
        sims.bling.faults.reset()
        sims.auvo.faults.reset()
        harness.close()
