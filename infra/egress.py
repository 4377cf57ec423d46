"""IP-wide ceilings: what every tenant and process leaving through one address may send together.

Bling's per-account quota (3 req/s, infra/ratelimit.py) is not the only limit: Bling blocks the
*IP* for an hour after more than 20 token calls in 60 s, and for minutes after 600 requests or 300
errors in 10 s. Fifty tenants each within their own quota can still get the whole deployment
blocked. So every Bling request and token call first takes a slot in sliding windows kept in the
store (infra/store/egress_windows.py) under the egress group's name (settings `egress.group`), and
every error answer is counted there too. A throttled request takes its windows in the transaction
of its account's rate slot (infra/ratelimit.py, `SharedThrottle(egress=...)`): one short store
transaction per request for every limit (plus one more per error answer).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from infra.errors import RateLimited
from infra.logging import get_logger
from infra.settings import EgressSettings
from infra.store import Store, WindowCheck

log = get_logger("egress")

Clock = Callable[[], float]
Sleep = Callable[[float], None]

TOKEN_WINDOW_S = 60
REQUEST_WINDOW_S = 10
# A wait this long is worth a log line (a refresh queued behind other tenants' refreshes).
LOG_WAIT_S = 1.0


class EgressGate:
    """Blocks until a call has room in every window it needs, for one egress group."""

    def __init__(
        self, store: Store, group: str, *, clock: Clock = time.time, sleep: Sleep = time.sleep
    ) -> None:
        self.store = store
        self.group = group
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0

    def acquire(
        self,
        checks: list[WindowCheck],
        *,
        max_wait: float | None = None,
        log_level: str = "info",
        take: Callable[[float], float] | None = None,
    ) -> float:
        """Seconds waited; RateLimited (transient) when room would come later than `max_wait`.

        `take(now)` takes the slots and answers the wait (0.0: taken); default the windows alone,
        the account's throttle passes one that also reserves its rate slot in the same transaction."""
        waited = 0.0
        while True:
            now = self.clock()
            wait = take(now) if take is not None else self.store.take_window_slots(self.group, checks, now)
            if wait <= 0:
                if waited >= LOG_WAIT_S:
                    getattr(log, log_level)(
                        "egress_waited", group=self.group, window=checks[0].name, seconds=round(waited, 1)
                    )
                self.waited += waited
                return waited
            if max_wait is not None and waited + wait > max_wait:
                raise RateLimited(
                    f"the egress group {self.group!r} has no room in {checks[0].name} for {wait:.0f} s "
                    f"(waited {waited:.0f} s already)",
                    retry_after=wait,
                )
            self.sleep(wait)
            waited += wait

    def hit(self, name: str) -> None:
        self.store.add_window_hit(name, self.clock())


class BlingEgress:
    """Bling's three per-IP ceilings (token calls / 60 s, requests and errors / 10 s) for a group."""

    def __init__(
        self,
        store: Store,
        settings: EgressSettings | None = None,
        *,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
    ) -> None:
        limits = settings or EgressSettings()
        self.gate = EgressGate(store, limits.group, clock=clock, sleep=sleep)
        prefix = f"{limits.group}:bling"
        self.token_calls = WindowCheck(
            f"{prefix}:token-calls", limits.bling_token_calls_per_minute, TOKEN_WINDOW_S
        )
        self.requests = WindowCheck(f"{prefix}:requests", limits.bling_requests_per_10s, REQUEST_WINDOW_S)
        # checked, not counted, before a request: whether it errs is known only from its answer
        self.errors = WindowCheck(
            f"{prefix}:errors", limits.bling_errors_per_10s, REQUEST_WINDOW_S, record=False
        )

    @property
    def request_checks(self) -> list[WindowCheck]:
        return [self.requests, self.errors]

    def before_request(self, take: Callable[[float], float] | None = None) -> None:
        # at the ceiling every request waits: one line each would flood the log (debug only)
        self.gate.acquire(self.request_checks, log_level="debug", take=take)

    def before_token_call(self, *, max_wait: float | None = None) -> float:
        """A token call is also a request; waits (at most `max_wait`) for room in both windows."""
        return self.gate.acquire([self.token_calls, self.requests, self.errors], max_wait=max_wait)

    def answered(self, status: int) -> None:
        """Bling counts every error answer (4xx and 5xx, 429 included) against the IP."""
        if status >= 400:
            self.gate.hit(self.errors.name)

    def usage(self) -> dict[str, object]:
        """What the group has spent of each window right now (for `status`)."""
        now = self.gate.clock()
        windows = {}
        for key, check in (
            ("token_calls_60s", self.token_calls),
            ("requests_10s", self.requests),
            ("errors_10s", self.errors),
        ):
            used = self.gate.store.window_hits(check.name, check.window_seconds, now)
            windows[key] = {"used": used, "limit": check.limit}
        return {"group": self.gate.group, **windows}

    def throttle(self, *, acquire: bool = True) -> BlingRequestCeilings:
        """`acquire=False`: the account's throttle already takes the windows with its rate slot;
        this part only counts the error answers."""
        return BlingRequestCeilings(self, acquire=acquire)

    def token_throttle(self, *, max_wait: float) -> BlingTokenCeilings:
        """For a token call made outside the token source (`authorize`'s code exchange)."""
        return BlingTokenCeilings(self, max_wait)


class BlingRequestCeilings:
    """The per-IP part of a Bling client's throttle (infra.http.send calls it and `observe`)."""

    def __init__(self, egress: BlingEgress, *, acquire: bool = True) -> None:
        self.egress = egress
        self.acquire = acquire

    def __call__(self) -> None:
        if self.acquire:
            self.egress.before_request()

    def observe(self, response: httpx.Response) -> None:
        self.egress.answered(response.status_code)


class BlingTokenCeilings:
    """A throttle for one token call: a slot under the token ceiling, its answer counted."""

    def __init__(self, egress: BlingEgress, max_wait: float) -> None:
        self.egress = egress
        self.max_wait = max_wait

    def __call__(self) -> None:
        self.egress.before_token_call(max_wait=self.max_wait)

    def observe(self, response: httpx.Response) -> None:
        self.egress.answered(response.status_code)


class ChainedThrottle:
    """Several throttles as one: each must let the request through (per account, then per IP).

    `penalize` (a 429 or Auvo's rate-limit 403) goes to every part that learns from it: which
    limit was hit cannot be told from the answer, and holding both back is the safe reading.
    """

    def __init__(self, *parts: Any) -> None:
        self.parts = [p for p in parts if p is not None]

    def __call__(self) -> None:
        for part in self.parts:
            part()

    def penalize(self, seconds: float) -> None:
        for part in self.parts:
            penalize = getattr(part, "penalize", None)
            if penalize is not None:
                penalize(seconds)

    def observe(self, response: httpx.Response) -> None:
        for part in self.parts:
            observe = getattr(part, "observe", None)
            if observe is not None:
                observe(response)

    @property
    def waited(self) -> float:
        return sum(getattr(p, "waited", 0.0) for p in self.parts)


def auvo_ip_limit(settings: EgressSettings, per_key: int) -> tuple[str, float] | None:
    """(shared bucket, requests per second) of Auvo's per-IP limit; None when it is not enforced.

    Unset, the IP gets the key's figure: where the limit is really per IP, tenants together then
    stay under it; where it is per key, the IP bucket only binds once several keys share the IP.
    """
    per_minute = per_key if settings.auvo_requests_per_minute is None else settings.auvo_requests_per_minute
    if per_minute <= 0:
        return None
    return f"auvo-ip:{settings.group}", per_minute / 60.0
