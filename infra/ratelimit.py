"""One rate limit per API account, shared by every process through the store.

Bling allows 3 requests/s per account and Auvo 400/minute; N consumer processes each limiting
themselves would together exceed that N-fold and earn a 429 storm (and, on Bling, an IP block).
So every request first reserves a slot in the store's bucket for the account and sleeps until
its slot comes.
"""

from __future__ import annotations

import time

from infra.store import Store

# Requests are spaced a little wider than the quota allows: providers count in sliding windows
# on their side of the network, and two requests sent exactly one interval apart can arrive
# closer than that.
SAFETY_MARGIN = 1.05


class SharedThrottle:
    """Callable passed to the API clients as their `throttle`.

    `burst` stays 1 by default: a provider's "N per second" is a sliding window, and a burst on
    top of the steady rate would put more than N requests in one window.
    """

    def __init__(self, store: Store, bucket: str, *, per_second: float, burst: int = 1) -> None:
        self.store = store
        self.bucket = bucket
        self.interval = SAFETY_MARGIN / per_second
        self.burst = max(1, burst)
        self.waited = 0.0

    def penalize(self, seconds: float) -> None:
        """The API answered "too many requests": nobody sends on this bucket for `seconds`."""
        self.store.hold_bucket(self.bucket, time.time() + seconds)

    def __call__(self) -> None:
        wait = self.store.reserve_slot(self.bucket, self.interval, self.burst)
        if wait > 0:
            self.waited += wait
            time.sleep(wait)
