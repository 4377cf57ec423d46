"""Is this process doing its job? The model behind `/readyz`.

`/healthz` only says the process answers. `/readyz` must say whether it *works*: a consumer
whose broker connection is down, whose thread died, a poller that has not finished a pass for a
few intervals, or a paused tenant all look alive from outside and do nothing. Each of those is a
`reason`; the process is ready only with none. Reasons are one line each, built from names,
states and error classes (error text is scrubbed), so the endpoint leaks no secret.

The pieces here are small and duck-typed (a worker with `connected`, a thread with `is_alive()`, a
gate with `pause_of()`), so the runtime feeds them and the tests feed fakes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from infra.errors import QUOTA_PAUSE_CLASSES
from infra.logging import scrub

# A poller's last completed pass may be this many intervals old before the process is not ready:
# one late pass is normal (a slow page, a rate-limit wait), several in a row mean it is stuck.
STALE_INTERVALS = 3.0
# ... and never less than this, so a 1 s poll interval does not flap on one slow API answer.
MIN_STALE_SECONDS = 30.0


@dataclass(frozen=True)
class Report:
    """The answer of `/readyz`: ready when there is no reason not to be; notes are informative."""

    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.reasons

    def body(self) -> str:
        lines = ["ready", *self.notes] if self.ready else ["not ready", *self.reasons]
        return "\n".join(lines) + "\n"


class PollHealth:
    """What one poll loop last achieved, recorded by `run_poll_loop`, read by `/readyz`.

    A pass counts as completed when the loop got an answer for this tick: it polled, or it found
    another producer holding the leader lease (a standby is doing its job: it is ready to take
    over, and says so in a note), or it found the tenant paused (the pause is its own reason).
    A failed pass does not count, so a poller failing every pass (API away, broker away while
    publishing, database away) goes stale after a few intervals.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        stale_intervals: float = STALE_INTERVALS,
        min_stale_seconds: float = MIN_STALE_SECONDS,
    ) -> None:
        self.name = name
        self._stale_intervals = stale_intervals
        self._min_stale_seconds = min_stale_seconds
        self.interval = interval
        self.stale_after = max(stale_intervals * interval, min_stale_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_pass = clock()  # a new loop gets the same grace as one that just passed
        self._passed_once = False
        self._standby = False
        self._last_error: str | None = None

    def passed(self, *, standby: bool = False) -> None:
        with self._lock:
            self._last_pass = self._clock()
            self._passed_once = True
            self._standby = standby
            self._last_error = None

    def expect_every(self, interval: float) -> None:
        """The loop's interval now (an adaptive one stretches while idle): staleness follows it,
        so a quiet source polled every bound seconds is not "stuck" and a stuck one still shows."""
        with self._lock:
            self.interval = interval
            self.stale_after = max(self._stale_intervals * interval, self._min_stale_seconds)

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self._last_error = f"{type(error).__name__}: {scrub(str(error))}"[:200]

    def reason(self) -> str | None:
        with self._lock:
            age = self._clock() - self._last_pass
            if age <= self.stale_after:
                return None
            limit = f"more than {self.stale_after:.0f}s"
            if self._passed_once:
                what = f"last completed pass {age:.0f}s ago ({limit})"
            else:
                what = f"no completed pass in the {age:.0f}s since start ({limit})"
            error = f"; last error: {self._last_error}" if self._last_error else ""
            return f"poller {self.name}: {what}{error}"

    def note(self) -> str | None:
        with self._lock:
            if self._standby:
                return f"poller {self.name}: standby (another producer holds the leader lease)"
            return None


class WorkerState(Protocol):
    """What `/readyz` reads of a consumer (infra.bus.runner.QueueWorker)."""

    connected: bool
    connection_error: str | None


class ThreadState(Protocol):
    def is_alive(self) -> bool: ...


class GateState(Protocol):
    tenant: str

    def pause_of(self, *, fresh: bool = False) -> Any: ...


def consumer_reasons(label: str, worker: WorkerState, thread: ThreadState) -> list[str]:
    """A consumer thread is doing its job when it runs and is connected to the broker."""
    if not thread.is_alive():
        return [f"consumer {label}: thread died"]
    if not worker.connected:
        error = f" ({worker.connection_error})" if worker.connection_error else ""
        return [f"consumer {label}: broker connection down{error}"]
    return []


def pause_reasons(gate: GateState) -> list[str]:
    """A paused tenant does nothing by design, but it is not doing its job: a person must act."""
    try:
        pause = gate.pause_of()
    except Exception as exc:  # the store is away: nothing of this tenant can work either
        return [f"tenant {gate.tenant}: cannot read its pause from the database ({type(exc).__name__})"]
    if pause is None:
        return []
    since = pause.paused_at.isoformat(timespec="seconds")
    if pause.error_class in QUOTA_PAUSE_CLASSES:
        quota = f"waits for the daily quota since {since} ({pause.error_class}); resumes by itself"
        return [f"tenant {gate.tenant}: {quota}"]
    return [f"tenant {gate.tenant}: paused since {since} ({pause.error_class}); `tenants resume` lifts it"]


def assess(
    *,
    consumers: Mapping[str, Sequence[tuple[WorkerState, ThreadState]]] | None = None,
    pollers: Sequence[PollHealth] = (),
    gates: Iterable[GateState] = (),
) -> Report:
    """Every reason not to be ready, in a stable order: tenants, then consumers, then pollers.

    `consumers` maps each tenant whose consumers this process runs to its current threads: none
    at all is a reason too (stopped for a pause, or not started again yet after a resume).
    """
    reasons: list[str] = []
    for gate in gates:
        reasons += pause_reasons(gate)
    for tenant, threads in (consumers or {}).items():
        if not threads:
            reasons.append(f"consumers of tenant {tenant}: none running")
        for i, (worker, thread) in enumerate(threads):
            reasons += consumer_reasons(f"{tenant}-{i}", worker, thread)
    notes: list[str] = []
    for poller in pollers:
        reason = poller.reason()
        if reason is not None:
            reasons.append(reason)
        note = poller.note()
        if note is not None:
            notes.append(note)
    return Report(tuple(reasons), tuple(notes))
