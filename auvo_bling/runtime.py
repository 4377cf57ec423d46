"""Running producers and consumers as threads of one process, and stopping them cleanly.

`run`, `produce`, `consume` and the demo all start the same pieces; only which ones differ.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from typing import Any

import structlog

from auvo_bling.wiring import App, start_thread
from infra.bus.publisher import Publisher
from infra.bus.runner import QueueWorker
from producers.polling import LeaderLease, Poller, run_poll_loop

log = structlog.get_logger("runtime")


@dataclass
class Running:
    """What one process started; `stop()` ends it and waits for the threads."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    workers: list[QueueWorker] = field(default_factory=list)
    pollers: list[Poller] = field(default_factory=list)
    publishers: list[Publisher] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    leader: LeaderLease | None = None

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for worker in self.workers:
            worker.stop()
        for thread in self.threads:
            thread.join(timeout)
        if self.leader is not None:
            self.leader.release()  # a standby producer takes over at once

    def published(self) -> int:
        return sum(p.published for p in self.publishers)

    def consumer_stats(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for worker in self.workers:
            for key, value in worker.stats.items():
                total[key] = total.get(key, 0) + value
        return total


def start(
    app: App,
    *,
    producers: bool = True,
    consumers: bool = True,
    worker_threads: int = 1,
    poll_interval: float | None = None,
) -> Running:
    app.declare_topology()
    running = Running()
    if consumers:
        for i in range(worker_threads):
            publisher = app.publisher()
            worker = app.worker(publisher)
            running.publishers.append(publisher)
            running.workers.append(worker)
            running.threads.append(start_thread(worker.run, f"consumer-{i}"))
    if producers:
        publisher = app.publisher()
        running.publishers.append(publisher)
        interval = poll_interval if poll_interval is not None else app.settings.poll_interval()
        leader = LeaderLease(app.store, app.tenant, ttl_seconds=max(30.0, 6 * interval))
        running.leader = leader

        def heard(stream: str) -> None:
            app.store.note_heard(app.tenant, stream, "poll")

        for poller in app.pollers(publisher):
            running.pollers.append(poller)
            running.threads.append(
                start_thread(
                    run_poll_loop,
                    f"poller-{poller.name}",
                    poller,
                    interval,
                    running.stop_event,
                    leader,
                    heard,
                )
            )
    return running


def wait_for_signal(running: Running) -> None:
    """Block until SIGINT/SIGTERM, then stop: in-flight messages finish and are acked first."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("stopping", signal=signal.Signals(signum).name)
        running.stop_event.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not running.stop_event.wait(0.5):
        if any(not t.is_alive() for t in running.threads):
            log.error("a worker thread died; stopping")
            break
    running.stop()
