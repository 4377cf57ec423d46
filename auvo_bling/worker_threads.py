"""What both consumer layouts share: a set of QueueWorker threads that stops as one."""

from __future__ import annotations

import threading

import structlog

from infra.bus.runner import QueueWorker

log = structlog.get_logger("runtime")


class WorkerThreads:
    """The current consumer threads and the stopped ones (`Running.stop` checks those still alive).

    Stopping takes the current threads out under the lock first, so a start racing with the stop
    (a resume, an options restart) either sees them gone or starts nothing once `final`.
    """

    label = "*"  # what readiness and the logs name: the tenant, or "*" for a pool of every tenant
    check_seconds = 1.0

    def __init__(self) -> None:
        self.current: list[tuple[QueueWorker, threading.Thread]] = []
        self.stopped: list[tuple[QueueWorker, threading.Thread]] = []
        self._lock = threading.Lock()
        self._closed = False  # after the final stop, a late start must not start anything

    def stop_workers(self, timeout: float = 10.0, *, final: bool = False) -> None:
        with self._lock:
            stopping, self.current = self.current, []
            self._closed = self._closed or final
        self.stopped.extend(stopping)
        for worker, _ in stopping:
            worker.stop()
        for _, thread in stopping:
            thread.join(timeout)

    def watch(self, stop: threading.Event) -> None:
        """Every `check_seconds`, `look()`; return (ending the thread, which stops the process:
        `wait_for_signal`) when a consumer thread died."""
        while not stop.wait(self.check_seconds):
            if any(not thread.is_alive() for _, thread in self.current):
                log.error("a consumer thread died", consumers=self.label)
                return
            self.look()

    def look(self) -> None:
        """What the layout follows besides its threads' health (a tenant's pause)."""
