"""How long a broker connection stayed lost: from the first error to working again.

On a cluster this is the failover time (another node took over); on one node, the outage. The
publisher and the consumer runner each keep one clock, log each recovery and export it
(`auvo_bling_broker_failover_seconds`), so ops see what a node's loss cost.
"""

from __future__ import annotations

import threading
import time

import structlog

from infra import metrics

log = structlog.get_logger("bus")


class FailoverClock:
    """Started by the first connection error, stopped by the next success; keeps every duration."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.lost_at: float | None = None
        self.durations: list[float] = []
        self._lock = threading.Lock()

    def lost(self) -> None:
        with self._lock:
            if self.lost_at is None:
                self.lost_at = time.monotonic()

    def restored(self) -> float | None:
        with self._lock:
            if self.lost_at is None:
                return None
            took = time.monotonic() - self.lost_at
            self.lost_at = None
            self.durations.append(took)
        metrics.BROKER_FAILOVER_SECONDS.labels(side=self.side).observe(took)
        log.warning("broker connection restored", side=self.side, lost_seconds=round(took, 2))
        return took
