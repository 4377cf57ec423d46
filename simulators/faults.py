"""Fault injection shared by the Auvo and Bling simulators.

Why: the integration must survive a flaky provider (5xx, slow answers, answers that never come
in time). Tests and benchmarks switch these faults on at runtime on a running simulator, and need
the *same* sequence of faults on every run, so every decision is drawn from a seeded RNG owned by
the injector (never from the global `random` module, so several simulators can run side by side).

Everything is off by default. Typical use::

    state.faults.configure(error_rate=0.2, latency=0.05, timeout_rate=0.1, timeout_seconds=30, seed=7)
    ...
    state.faults.reset()          # all off again

A "timeout" fault sleeps `timeout_seconds` *before* the request is handled, then handles it
normally: the client has given up by then, but the write (if any) still happens, which is exactly
the ambiguity a real timeout leaves a client with.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True)
class FaultDecision:
    """What the injector decided for one request: how long to stall, and an error status or None."""

    delay: float = 0.0
    status: int | None = None

    @property
    def is_noop(self) -> bool:
        return self.delay <= 0 and self.status is None


class FaultInjector:
    """Thread-safe, seeded fault source. One instance per simulator state."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self.error_rate: float = 0.0
        self.error_statuses: tuple[int, ...] = (500, 503)
        self.latency: float = 0.0
        self.timeout_rate: float = 0.0
        self.timeout_seconds: float = 30.0
        self.injected: dict[str, int] = {"errors": 0, "timeouts": 0}

    def configure(
        self,
        *,
        error_rate: float | None = None,
        error_statuses: tuple[int, ...] | None = None,
        latency: float | None = None,
        timeout_rate: float | None = None,
        timeout_seconds: float | None = None,
        seed: int | None = None,
    ) -> None:
        """Change any subset of the knobs; passing `seed` restarts the decision sequence."""
        with self._lock:
            if error_rate is not None:
                self.error_rate = _rate(error_rate)
            if error_statuses is not None:
                self.error_statuses = tuple(error_statuses)
            if latency is not None:
                self.latency = max(0.0, float(latency))
            if timeout_rate is not None:
                self.timeout_rate = _rate(timeout_rate)
            if timeout_seconds is not None:
                self.timeout_seconds = max(0.0, float(timeout_seconds))
            if seed is not None:
                self._seed = seed
                self._rng = random.Random(seed)

    def reset(self) -> None:
        """Switch every fault off and restart the RNG, so a test leaves no trace for the next one."""
        with self._lock:
            self.error_rate = 0.0
            self.latency = 0.0
            self.timeout_rate = 0.0
            self.error_statuses = (500, 503)
            self._rng = random.Random(self._seed)
            self.injected = {"errors": 0, "timeouts": 0}

    @property
    def active(self) -> bool:
        return self.error_rate > 0 or self.latency > 0 or self.timeout_rate > 0

    def decide(self) -> FaultDecision:
        """Draw the fault for one request (always two RNG draws, so the sequence is stable)."""
        with self._lock:
            if not self.active:
                return FaultDecision()
            timeout_draw = self._rng.random()
            error_draw = self._rng.random()
            delay = self.latency
            if timeout_draw < self.timeout_rate:
                self.injected["timeouts"] += 1
                return FaultDecision(delay=delay + self.timeout_seconds)
            if error_draw < self.error_rate:
                self.injected["errors"] += 1
                status = self.error_statuses[int(error_draw * 1_000_003) % len(self.error_statuses)]
                return FaultDecision(delay=delay, status=status)
            return FaultDecision(delay=delay)

    async def apply(self) -> int | None:
        """Stall as decided (without blocking the event loop) and return the error status to send."""
        decision = self.decide()
        if decision.delay > 0:
            await asyncio.sleep(decision.delay)
        return decision.status


def _rate(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


# --- plumbing both simulators share: their clock and their rate limiters ------------------------

BRASILIA = timezone(timedelta(hours=-3))


def brasilia_now() -> datetime:
    """Wall-clock time as both APIs show it: naive local time of Brasília (UTC-3, no DST since 2019)."""
    return datetime.now(BRASILIA).replace(tzinfo=None)


class SlidingWindowLimiter:
    """At most `limit` hits per `window` seconds per key, counted over a sliding window.

    Why sliding and not fixed: a fixed window lets a client burst 2x the limit across a window edge,
    which would make a client that is wrong about pacing pass the tests by luck.
    Time comes from the caller (the state's clock), so a frozen test clock freezes the window too.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float) -> bool:
        """Record one hit; False (and nothing recorded) when the key is over its limit."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
