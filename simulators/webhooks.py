"""Webhook delivery for the simulators: a background sender with the faults real senders show.

Why a queue and a thread: a provider never holds the request that changed the data until its
webhooks were delivered, and neither may the simulator (a slow receiver must not slow the API).
Why faults: real deliveries are at-least-once and unordered, so the receiver and the consumers
must cope with duplicates and with an older notification arriving after a newer one. Every
decision comes from a seeded RNG in the single sender thread, so a run is reproducible.

    sender.configure(duplicate_rate=0.2, reorder_rate=0.2, seed=7)

A failed delivery (non-2xx or no answer) is retried `max_attempts` times, like Bling's retries
(compressed from days to fractions of a second); every attempt is recorded in `deliveries`.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one notification: where, with what answer (None: no answer)."""

    url: str
    status: int | None
    duplicate: bool = False
    reordered: bool = False


@dataclass(frozen=True)
class _Item:
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...]


class WebhookSender:
    """Thread-safe, non-blocking `send`; one daemon thread delivers, started on first use."""

    def __init__(
        self,
        *,
        seed: int = 0,
        duplicate_rate: float = 0.0,
        reorder_rate: float = 0.0,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        timeout: float = 5.0,
    ) -> None:
        self._rng = random.Random(seed)
        self.duplicate_rate = duplicate_rate
        self.reorder_rate = reorder_rate
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    def configure(
        self,
        *,
        duplicate_rate: float | None = None,
        reorder_rate: float | None = None,
        seed: int | None = None,
    ) -> None:
        with self._lock:
            if duplicate_rate is not None:
                self.duplicate_rate = duplicate_rate
            if reorder_rate is not None:
                self.reorder_rate = reorder_rate
            if seed is not None:
                self._rng = random.Random(seed)

    def send(self, url: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Queue one notification; returns at once."""
        with self._lock:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
                self._thread.start()
        self._queue.put(_Item(url, body, tuple((headers or {}).items())))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued was delivered (or given up); True if it was in time."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    @property
    def delivered(self) -> int:
        return sum(1 for d in self.deliveries if d.status is not None and 200 <= d.status < 300)

    # --- the sender thread ------------------------------------------------------------------------

    def _run(self) -> None:
        held: _Item | None = None  # an item kept back to be sent after the next one (out of order)
        with httpx.Client(timeout=self.timeout) as client:
            while True:
                try:
                    item = self._queue.get(timeout=0.1 if held is not None else None)
                except queue.Empty:
                    item = None
                if item is None:
                    if held is not None:
                        self._deliver(client, held, reordered=True)
                        held = None
                    continue
                if held is None and self._draw() < self.reorder_rate:
                    held = item
                    continue
                self._deliver(client, item)
                if held is not None:
                    self._deliver(client, held, reordered=True)
                    held = None

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _deliver(self, client: httpx.Client, item: _Item, *, reordered: bool = False) -> None:
        try:
            self._attempt(client, item, duplicate=False, reordered=reordered)
            if self._draw() < self.duplicate_rate:
                self._attempt(client, item, duplicate=True, reordered=reordered)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _attempt(self, client: httpx.Client, item: _Item, *, duplicate: bool, reordered: bool) -> None:
        headers = {"content-type": "application/json", **dict(item.headers)}
        for attempt in range(self.max_attempts):
            try:
                status: int | None = client.post(item.url, content=item.body, headers=headers).status_code
            except httpx.HTTPError:
                status = None
            with self._lock:
                self.deliveries.append(Delivery(item.url, status, duplicate, reordered))
            if status is not None and 200 <= status < 300:
                return
            if status is not None and 400 <= status < 500:
                return  # refused, not failed: a retry would be refused again
            if attempt + 1 < self.max_attempts:
                time.sleep(self.retry_delay * (attempt + 1))
