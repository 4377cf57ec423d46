"""`/readyz`: 503 with one line per reason for every way a live process can be doing nothing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from infra.errors import ApiUnavailable
from infra.health import PollHealth, Report, assess
from infra.metrics import start_metrics_server
from producers.polling import run_poll_loop


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeWorker:
    connected: bool = True
    connection_error: str | None = None


@dataclass
class FakeThread:
    alive: bool = True

    def is_alive(self) -> bool:
        return self.alive


@dataclass
class FakePause:
    paused_at: datetime
    error_class: str


class FakeGate:
    def __init__(self, tenant: str, pause: FakePause | None = None, error: Exception | None = None) -> None:
        self.tenant = tenant
        self.pause = pause
        self.error = error

    def pause_of(self, *, fresh: bool = False) -> FakePause | None:
        if self.error is not None:
            raise self.error
        return self.pause


def test_a_process_with_everything_working_is_ready() -> None:
    clock = FakeClock()
    poller = PollHealth("default/auvo-customers", 5.0, clock=clock)
    poller.passed()
    report = assess(
        consumers={"default": [(FakeWorker(), FakeThread())]}, pollers=[poller], gates=[FakeGate("default")]
    )
    assert report.ready and report.body() == "ready\n"


def test_a_dead_consumer_thread_is_not_ready() -> None:
    report = assess(consumers={"default": [(FakeWorker(), FakeThread()), (FakeWorker(), FakeThread(False))]})
    assert report.reasons == ("consumer default-1: thread died",)
    assert report.body() == "not ready\nconsumer default-1: thread died\n"


def test_a_consumer_whose_broker_connection_is_down_is_not_ready() -> None:
    worker = FakeWorker(connected=False, connection_error="ConnectionRefusedError: [Errno 111]")
    report = assess(consumers={"acme": [(worker, FakeThread())]})
    assert report.reasons == (
        "consumer acme-0: broker connection down (ConnectionRefusedError: [Errno 111])",
    )
    # still connecting for the first time: down too, without an error to show
    assert assess(consumers={"acme": [(FakeWorker(connected=False), FakeThread())]}).reasons == (
        "consumer acme-0: broker connection down",
    )


def test_a_tenant_with_no_consumer_running_is_not_ready() -> None:
    """Stopped for a pause, or not started again yet after a resume: nothing consumes."""
    report = assess(consumers={"default": [(FakeWorker(), FakeThread())], "acme": []})
    assert report.reasons == ("consumers of tenant acme: none running",)


def test_a_paused_tenant_is_not_ready_and_says_how_to_resume() -> None:
    pause = FakePause(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "AuvoApiDeactivated")
    report = assess(gates=[FakeGate("default"), FakeGate("acme", pause)])
    assert report.reasons == (
        "tenant acme: paused since 2026-01-02T03:04:05+00:00 (AuvoApiDeactivated); `tenants resume` lifts it",
    )


def test_a_tenant_whose_pause_cannot_be_read_is_not_ready() -> None:
    report = assess(gates=[FakeGate("default", error=RuntimeError("password=hunter2 connection refused"))])
    assert report.reasons == ("tenant default: cannot read its pause from the database (RuntimeError)",)
    assert "hunter2" not in report.body()


def test_a_poller_is_stale_after_a_few_intervals_without_a_completed_pass() -> None:
    clock = FakeClock()
    poller = PollHealth("default/auvo-customers", 20.0, clock=clock)  # stale after 3 x 20 s
    clock.now += 59
    assert poller.reason() is None  # the start counts as a pass: a new process gets its grace
    clock.now += 2
    assert (
        poller.reason()
        == "poller default/auvo-customers: no completed pass in the 61s since start (more than 60s)"
    )
    poller.passed()
    clock.now += 30
    poller.failed(ApiUnavailable("Auvo answered 503"))
    assert poller.reason() is None
    clock.now += 31
    assert poller.reason() == (
        "poller default/auvo-customers: last completed pass 61s ago (more than 60s); "
        "last error: ApiUnavailable: Auvo answered 503"
    )
    assert assess(pollers=[poller]).ready is False


def test_a_short_interval_is_not_stale_before_the_minimum() -> None:
    clock = FakeClock()
    poller = PollHealth("p", 1.0, clock=clock)
    clock.now += 29
    assert poller.reason() is None
    clock.now += 2
    assert poller.reason() is not None


def test_a_standby_producer_is_ready_and_says_it_stands_by() -> None:
    clock = FakeClock()
    poller = PollHealth("default/auvo-tasks", 5.0, clock=clock)
    poller.passed(standby=True)
    report = assess(pollers=[poller])
    assert report.ready
    assert (
        report.body()
        == "ready\npoller default/auvo-tasks: standby (another producer holds the leader lease)\n"
    )
    poller.passed()  # took over
    assert assess(pollers=[poller]).notes == ()


class ScriptedPoller:
    """Fails the passes named in `fail_on`, then stops the loop after `passes` passes."""

    name = "scripted"

    def __init__(self, stop: threading.Event, passes: int, fail_on: set[int]) -> None:
        self.stop, self.passes, self.fail_on, self.calls = stop, passes, fail_on, 0

    def poll_once(self) -> int:
        self.calls += 1
        if self.calls >= self.passes:
            self.stop.set()
        if self.calls in self.fail_on:
            raise ApiUnavailable("Auvo answered 503")
        return 0


class Lease:
    def __init__(self, held: bool) -> None:
        self._held = held

    def held(self) -> bool:
        return self._held


def test_the_poll_loop_records_passes_failures_and_standby() -> None:
    clock = FakeClock()
    stop = threading.Event()
    health = PollHealth("scripted", 0.0, clock=clock, min_stale_seconds=10)
    poller = ScriptedPoller(stop, passes=2, fail_on={2})
    clock.now += 11
    run_poll_loop(poller, 0.0, stop, health=health)  # pass 1 succeeds (at 1011), pass 2 fails
    clock.now += 11
    reason = health.reason()
    assert reason is not None and reason.endswith("; last error: ApiUnavailable: Auvo answered 503")

    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    run_poll_loop(ScriptedPoller(stop, 99, set()), 0.01, stop, leader=Lease(False), health=health)  # type: ignore[arg-type]
    timer.join()
    assert health.reason() is None and health.note() is not None


def test_readyz_answers_503_with_the_reasons_and_200_when_ready() -> None:
    state: dict[str, Any] = {"report": Report(("consumer default-0: thread died", "tenant acme: paused"))}

    def ready() -> Report:
        if "error" in state:
            raise state["error"]
        return state["report"]

    server = start_metrics_server(0, ready=ready)
    try:
        answer = httpx.get(f"{server.url}/readyz", timeout=5)
        assert answer.status_code == 503
        assert answer.text == "not ready\nconsumer default-0: thread died\ntenant acme: paused\n"
        state["report"] = Report(notes=("poller x: standby (another producer holds the leader lease)",))
        answer = httpx.get(f"{server.url}/readyz", timeout=5)
        assert answer.status_code == 200 and answer.text.startswith("ready\n")
        state["error"] = RuntimeError("boom")
        answer = httpx.get(f"{server.url}/readyz", timeout=5)
        assert (answer.status_code, answer.text) == (
            503,
            "not ready\nreadiness check failed (RuntimeError)\n",
        )
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200  # alive all along
    finally:
        server.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_metrics_server_binds_the_host_it_is_given(host: str) -> None:
    server = start_metrics_server(0, host)
    try:
        assert server._server.server_address[0] == host
        assert httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5).status_code == 200
    finally:
        server.stop()
