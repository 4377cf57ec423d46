"""Helpers of the IP-wide ceiling and token refresh tests: one simulated time for every party, and
"how many in any window" over a list of moments."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from infra.http import BRASILIA


class SimTime:
    """One clock for the Bling simulator, the store's windows and the token source.

    Manual (`speed=None`): moves only by `advance` and by `sleep`, so a test is exact. Accelerated
    (`speed=k`): runs k times faster than the wall clock and `sleep(s)` sleeps s / k, so a minute
    of Bling's token window passes in 60 / k seconds of the test.
    """

    def __init__(self, start: datetime, speed: float | None = None) -> None:
        self._start = start.astimezone(UTC).timestamp()
        self._offset = 0.0
        self._speed = speed
        self._wall0 = time.monotonic()
        self._lock = threading.Lock()

    def epoch(self) -> float:
        with self._lock:
            elapsed = (time.monotonic() - self._wall0) * self._speed if self._speed else 0.0
            return self._start + self._offset + elapsed

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)

    def brasilia(self) -> datetime:
        """What the simulators want: naive local time of Brasília."""
        return self.utc().astimezone(BRASILIA).replace(tzinfo=None)

    def set_speed(self, speed: float) -> None:
        """Run at another pace from now on (the time reached so far is kept)."""
        with self._lock:
            if self._speed:
                self._offset += (time.monotonic() - self._wall0) * self._speed
            self._wall0 = time.monotonic()
            self._speed = speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def sleep(self, seconds: float) -> None:
        if self._speed:
            time.sleep(max(seconds, 0.0) / self._speed)
        else:
            self.advance(max(seconds, 0.0))


def max_in_any_window(times: list[float], window: float) -> int:
    """The largest number of `times` inside one window of `window` seconds."""
    ordered, best, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best

