"""One rate limit per API account, shared by every process through the store.

Bling allows 3 requests/s per account and Auvo 400/minute; N consumer processes each limiting
themselves would together exceed that N-fold and earn a 429 storm (and, on Bling, an IP block).
So every request first reserves a slot in the store's bucket for the account and sleeps until
its slot comes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from infra.errors import QuotaBusy
from infra.store import BucketBooked, DailyCharge, DailyLimitReached, Store, WindowClaim, WindowsFull

if TYPE_CHECKING:
    from infra.bling.budget import DailyBudgetGuard
    from infra.egress import BlingEgress

# Requests are spaced a little wider than the quota allows: providers count in sliding windows
# on their side of the network, and two requests sent exactly one interval apart can arrive
# closer than that.
SAFETY_MARGIN = 1.05
MAX_LEARNED_INTERVAL = 5.0  # never slower than one request per 5 s because of 429s
# A 429 slows this process by half again; each request then relaxes the pace by 5 %, so a sporadic
# 429 (two requests bunched by scheduling jitter on a busy host) costs a few seconds, while an
# account that really allows less keeps earning 429s and stays slowed. (Doubling and relaxing 1 %
# per request turned three jitter 429s at Bling's 3 req/s into ten minutes at a tenth of the pace.)
PENALTY_FACTOR = 1.5
RELAX = 0.95
# 429s that arrive together (requests bunched in transit all answered at once) are one signal, not
# several: the pace is slowed at most once per this many seconds.
PENALTY_EVERY_SECONDS = 1.0


# How long a request made here may wait for its bucket's slot; None = as long as it takes. Set by
# a shared consumer thread around a handler (`set_aside_after`): it serves every company, so it
# must not sleep through one company's booked quota while the others' events wait behind it.
_PATIENCE: ContextVar[float | None] = ContextVar("bucket_patience", default=None)


@contextlib.contextmanager
def set_aside_after(seconds: float | None) -> Iterator[None]:
    """Inside: a request whose slot is more than `seconds` away raises QuotaBusy instead of
    waiting (nothing reserved, nothing charged); None or 0 = wait as long as it takes."""
    token = _PATIENCE.set(seconds or None)
    try:
        yield
    finally:
        _PATIENCE.reset(token)


class SharedThrottle:
    """Callable passed to the API clients as their `throttle`.

    `burst` stays 1 by default: a provider's "N per second" is a sliding window, and a burst on
    top of the steady rate would put more than N requests in one window.
    """

    def __init__(
        self,
        store: Store,
        bucket: str,
        *,
        per_second: float,
        burst: int = 1,
        daily: DailyBudgetGuard | None = None,
        egress: BlingEgress | None = None,
    ) -> None:
        """`egress`: the IP-wide windows every request of this account must also have room in,
        taken in the slot's own transaction (one store transaction per request for all limits)."""
        self.store = store
        self.egress = egress
        # Bling's daily budget, charged in the slot's own transaction (infra/bling/budget.py)
        self.daily = daily
        self.bucket = bucket
        self.interval = SAFETY_MARGIN / per_second
        self.burst = max(1, burst)
        self.waited = 0.0
        # Learned from 429s when the account allows less than configured (another integration on
        # the same Bling account, a lower plan): see PENALTY_FACTOR and RELAX.
        self.learned_interval = 0.0
        self._last_slowdown = float("-inf")

    @property
    def effective_interval(self) -> float:
        return max(self.interval, self.learned_interval)

    def penalize(self, seconds: float) -> None:
        """The API answered "too many requests": nobody sends on this bucket for `seconds`, and
        this process slows down (PENALTY_FACTOR), recovering request by request (RELAX)."""
        now = time.monotonic()
        if now - self._last_slowdown >= PENALTY_EVERY_SECONDS:
            self._last_slowdown = now
            slower = max(self.effective_interval, self.interval) * PENALTY_FACTOR
            self.learned_interval = min(slower, MAX_LEARNED_INTERVAL)
        self.store.hold_bucket(self.bucket, time.time() + seconds)

    def __call__(self) -> None:
        daily = None if self.daily is None else self.daily.charge()
        try:
            wait = self._reserve(daily)
        except DailyLimitReached as refused:
            assert self.daily is not None
            raise self.daily.refusal(refused) from None
        except BucketBooked as booked:
            raise QuotaBusy(
                f"{self.bucket}: the next request slot is {booked.wait:.1f} s away; set aside",
                retry_after=booked.wait,
            ) from None
        self.learned_interval *= RELAX
        if wait > 0:
            self.waited += wait
            time.sleep(wait)

    def _reserve(self, daily: DailyCharge | None) -> float:
        """The slot's wait; with `egress`, after waiting (in the gate) for room in its windows."""
        patience = _PATIENCE.get()
        if self.egress is None:
            return self.store.reserve_slot(
                self.bucket, self.effective_interval, self.burst, daily=daily, give_up_after=patience
            )
        egress, slot = self.egress, []

        def take(now: float) -> float:
            claim = WindowClaim(egress.gate.group, egress.request_checks, now)
            try:
                slot.append(
                    self.store.reserve_slot(
                        self.bucket,
                        self.effective_interval,
                        self.burst,
                        daily=daily,
                        windows=claim,
                        give_up_after=patience,
                    )
                )
            except WindowsFull as full:
                return full.wait
            return 0.0

        egress.before_request(take)
        return slot[-1]
