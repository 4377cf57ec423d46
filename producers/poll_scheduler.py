"""Every tenant's pollers on a bounded pool of threads (the shared topology's producers).

A thread per poller is 5 threads per tenant: 5,000 for a thousand companies, almost all of them
asleep in an idle company's stretched interval. Here each poller is a `PollTask` with a due time
in one heap, and `threads` threads take whichever is due first and run one pass of it
(`producers.polling.poll_pass`, the same body as a poller's own loop), then put it back at its
next due time. A tenant whose shard this process does not hold (`producers.poll_shards`) gets a
standby tick: nothing is read, and it is polled again as soon as the shard comes here.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from infra.health import PollHealth
from infra.logging import scrub
from infra.tenant_gate import TenantGate
from producers.polling import NUDGE_CHECK_SECONDS, AdaptiveInterval, Poller, WebhookNudge, poll_pass

log = structlog.get_logger("producers")


@dataclass(eq=False)
class PollTask:
    """One tenant's poller and everything its passes tell."""

    tenant: str
    poller: Poller
    schedule: AdaptiveInterval
    gate: TenantGate | None = None
    health: PollHealth | None = None
    heard: Callable[[str], None] | None = None
    scheduled: Callable[[str, float], None] | None = None
    nudged: WebhookNudge | None = None
    removed: bool = field(default=False, init=False)
    # the heap entry that counts: a nudge pushes a newer one, and the older is skipped
    seq: int = field(default=-1, init=False)


class PollScheduler:
    """A heap of due poll tasks and the bounded pool of threads that runs them."""

    def __init__(
        self,
        held: Callable[[str], bool],
        *,
        threads: int,
        stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
        around: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
        webhooks_heard: Callable[[], dict[tuple[str, str], Any]] | None = None,
    ) -> None:
        """`around()` is entered by each poll thread for its whole life (the Bling calls of a
        pass are tagged as polls: `infra.quota.spending`). `webhooks_heard()`: when each tenant's
        pushed source last had a webhook, for all of them in one read ({(tenant, stream): at});
        without it each pushed poller's nudge reads its own."""
        self._around = around
        self._webhooks_heard = webhooks_heard
        self._held = held
        self._stop = stop
        self._clock = clock
        self._heap: list[tuple[float, int, PollTask]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._tasks: dict[str, list[PollTask]] = {}
        self._running: set[int] = set()  # ids of tasks whose pass is under way
        self.threads = [
            threading.Thread(target=self._work, name=f"poller-{i}", daemon=True) for i in range(threads)
        ]
        self.threads.append(threading.Thread(target=self._watch_nudges, name="poll-nudges", daemon=True))
        self.passes = 0

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def add(self, tasks: list[PollTask]) -> None:
        """The tenant's pollers, first due now (a new tenant is polled at once)."""
        now = self._clock()
        with self._cond:
            for task in tasks:
                self._tasks.setdefault(task.tenant, []).append(task)
                self._push(now, task)
            self._cond.notify_all()

    def _push(self, due: float, task: PollTask) -> None:
        task.seq = next(self._seq)
        heapq.heappush(self._heap, (due, task.seq, task))

    def remove(self, tenant: str, timeout: float = 10.0) -> None:
        """Take the tenant's pollers out; returns once none of their passes is still running."""
        with self._cond:
            tasks = self._tasks.pop(tenant, [])
            for task in tasks:
                task.removed = True
            ids = {id(task) for task in tasks}
            deadline = self._clock() + timeout
            while ids & self._running and self._clock() < deadline:
                self._cond.wait(0.1)

    def tenants(self) -> list[str]:
        with self._cond:
            return sorted(self._tasks)

    def health(self) -> list[PollHealth]:
        with self._cond:
            return [t.health for tasks in self._tasks.values() for t in tasks if t.health is not None]

    def nudge(self, tenant: str, poller: str) -> None:
        """A webhook came for this tenant's source: its next pass comes within the fast interval."""
        now = self._clock()
        with self._cond:
            for task in self._tasks.get(tenant, []):
                if task.poller.name == poller:
                    self._push(now + task.schedule.snap_back(), task)
            self._cond.notify_all()

    def wake(self, which: Callable[[str], bool]) -> None:
        """Poll these tenants' pollers now (their shard just came to this process)."""
        now = self._clock()
        with self._cond:
            for tenant, tasks in self._tasks.items():
                if which(tenant):
                    for task in tasks:
                        self._push(now, task)
            self._cond.notify_all()

    def _next(self) -> PollTask | None:
        with self._cond:
            while not self._stop.is_set():
                if not self._heap:
                    self._cond.wait(0.5)
                    continue
                due, seq, task = self._heap[0]
                # gone, an entry a nudge replaced, or under way (its pass puts it back when done)
                if task.removed or seq != task.seq or id(task) in self._running:
                    heapq.heappop(self._heap)
                    continue
                wait = due - self._clock()
                if wait > 0:
                    self._cond.wait(min(wait, 0.5))
                    continue
                heapq.heappop(self._heap)
                self._running.add(id(task))
                return task
            return None

    def _work(self) -> None:
        with self._around():
            self._work_until_stopped()

    def _work_until_stopped(self) -> None:
        while (task := self._next()) is not None:
            started = self._clock()
            try:
                pause = self._pass(task)
            finally:
                with self._cond:
                    self._running.discard(id(task))
                    self.passes += 1
                    if not task.removed:
                        self._push(started + pause, task)
                    self._cond.notify_all()

    def _pass(self, task: PollTask) -> float:
        tenant = task.tenant
        pause, polled = poll_pass(
            task.poller,
            task.schedule,
            held=lambda: self._held(tenant),
            heard=task.heard,
            gate=task.gate,
            health=task.health,
        )
        if polled and task.scheduled is not None:
            try:
                task.scheduled(task.poller.name, pause)
            except Exception as exc:  # status is informative: never stop polling for it
                log.warning("poll schedule not recorded", poller=task.poller.name, error=scrub(str(exc)))
        return pause

    def _watch_nudges(self) -> None:
        """Ask the pushed sources of the tenants held here whether a webhook came meanwhile."""
        while not self._stop.wait(NUDGE_CHECK_SECONDS):
            with self._cond:
                pushed = [t for tasks in self._tasks.values() for t in tasks if t.nudged is not None]
            held = [task for task in pushed if self._held(task.tenant)]
            if not held:
                continue
            try:
                heard = self._webhooks_heard() if self._webhooks_heard is not None else None
            except Exception as exc:  # the store being away must not stop the loop
                log.warning("webhook nudge check failed", error=scrub(str(exc)))
                continue
            for task in held:
                try:
                    nudged = task.nudged
                    if nudged is None:
                        continue
                    if heard is None:
                        moved = nudged()
                    else:  # one read for every tenant, not one per pushed poller and second
                        moved = nudged.moved(heard.get((task.tenant, task.poller.name)))
                    if moved:
                        self.nudge(task.tenant, task.poller.name)
                except Exception as exc:  # the store being away must not stop the loop
                    log.warning("webhook nudge check failed", error=scrub(str(exc)))

    def join(self, timeout: float) -> None:
        with self._cond:
            self._cond.notify_all()
        for thread in self.threads:
            thread.join(timeout)
