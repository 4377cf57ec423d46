"""Every tenant's periodic looks (its quota pause, its company options) on one thread.

The per-tenant layout gives each tenant a quota-watch thread and an options-watch thread; with the
shared topology a process serving a thousand companies runs them all here instead: one thread, a
heap of due looks, each look short (a cached read, or one store read) and never fatal (their
`tick` methods log what failed and are tried again at their next turn).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("runtime")


class TenantWatches:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, float, str, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self.looks = 0
        self._cancelled: set[str] = set()  # a look popped while cancelled is not pushed back

    def every(
        self, seconds: float, name: str, look: Callable[[], None], *, first_after: float | None = None
    ) -> None:
        """Run `look()` every `seconds`, the first time after `first_after` (default: one interval)."""
        first = self._clock() + (seconds if first_after is None else first_after)
        with self._lock:
            self._cancelled.discard(name)  # the same tenant served again
            heapq.heappush(self._heap, (first, next(self._seq), seconds, name, look))

    def cancel(self, *names: str) -> None:
        """Stop these looks (a tenant retired from the process); a look running now finishes."""
        gone = set(names)
        with self._lock:
            self._heap = [entry for entry in self._heap if entry[3] not in gone]
            heapq.heapify(self._heap)
            self._cancelled |= gone

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                due = self._heap[0][0] if self._heap else None
            if due is None or due > self._clock():
                stop.wait(0.2 if due is None else min(0.2, max(0.0, due - self._clock())))
                continue
            with self._lock:
                _, _, seconds, name, look = heapq.heappop(self._heap)
            try:
                look()
            except Exception:  # the looks log their own failures; this only keeps the thread alive
                log.exception("a tenant watch failed", watch=name)
            self.looks += 1
            with self._lock:
                if name in self._cancelled:
                    continue
                heapq.heappush(self._heap, (self._clock() + seconds, next(self._seq), seconds, name, look))
