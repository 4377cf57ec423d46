"""What both consumer layouts share: a set of QueueWorker threads that stops as one."""

from __future__ import annotations

import threading

from infra.bus.runner import QueueWorker


class WorkerThreads:
    """The current consumer threads and the stopped ones (`Running.stop` checks those still alive).

    Stopping takes the current threads out under the lock first, so a start racing with the stop
    (a resume, an options restart) either sees them gone or starts nothing once `final`.
    """

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
