"""Bling's per-IP blocks, and the per-IP counters the tests read.

Bling (simulators/specs/README.md): more than 20 token calls in 60 s blocks the IP for 60 minutes;
600 requests or 300 errors in 10 s block it "for minutes" (10 by default, configurable). A
blocked IP gets 429 TOO_MANY_REQUESTS on every endpoint until the block ends. These are per IP,
whatever account or app the requests belong to: this is what a deployment serving many tenants
from one address runs into. Time comes from the caller (the state's clock).

Every admitted token call, request and error answer is also kept per IP (the last `history` of
each), so a test can ask "how many in the worst 60 s" after the fact.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from simulators.faults import SlidingWindowLimiter

KINDS = ("token_calls", "requests", "errors")


@dataclass(frozen=True)
class IpBlock:
    ip: str
    reason: str  # "token_calls", "requests" or "errors"
    at: float
    until: float


class IpLimits:
    def __init__(
        self,
        *,
        token_calls_per_minute: int = 20,
        token_block_seconds: float = 3600,
        requests_per_10s: int = 600,
        errors_per_10s: int = 300,
        burst_block_seconds: float = 600,
        history: int = 200_000,
    ) -> None:
        self.token_block_seconds = token_block_seconds
        self.burst_block_seconds = burst_block_seconds
        self.limiters = {
            "token_calls": SlidingWindowLimiter(token_calls_per_minute, 60.0),
            "requests": SlidingWindowLimiter(requests_per_10s, 10.0),
            "errors": SlidingWindowLimiter(errors_per_10s, 10.0),
        }
        self.blocks: list[IpBlock] = []
        self.refused: dict[str, int] = {}
        self._blocked_until: dict[str, float] = {}
        self._history = history
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def set_limit(self, kind: str, limit: int) -> None:
        window = self.limiters[kind].window
        self.limiters[kind] = SlidingWindowLimiter(limit, window)

    def limit(self, kind: str) -> int:
        return self.limiters[kind].limit

    def blocked(self, ip: str, now: float) -> bool:
        return self._blocked_until.get(ip, 0.0) > now

    def admit(self, ip: str, now: float, *, token_call: bool = False) -> bool:
        """Count one request (and token call) from `ip`; False when the IP is or becomes blocked."""
        if self.blocked(ip, now):
            self.refused[ip] = self.refused.get(ip, 0) + 1
            return False
        if not self._hit("requests", ip, now, self.burst_block_seconds):
            return False
        return not token_call or self._hit("token_calls", ip, now, self.token_block_seconds)

    def answered(self, ip: str, status: int, now: float) -> None:
        """Every 4xx/5xx answer counts against the IP (300 in 10 s blocks it)."""
        if status >= 400:
            self._hit("errors", ip, now, self.burst_block_seconds)

    def times(self, ip: str, kind: str) -> list[float]:
        return list(self._seen.get((ip, kind), ()))

    def max_in_window(self, ip: str, kind: str, window: float) -> int:
        """The most `kind` events of `ip` that fell inside any one window of `window` seconds."""
        times, best, start = self.times(ip, kind), 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def reset(self) -> None:
        for limiter in self.limiters.values():
            limiter.reset()
        self._blocked_until.clear()
        self._seen.clear()
        self.blocks.clear()
        self.refused.clear()

    def _hit(self, kind: str, ip: str, now: float, block_seconds: float) -> bool:
        if self.limiters[kind].hit(ip, now):
            self._seen.setdefault((ip, kind), deque(maxlen=self._history)).append(now)
            return True
        self._blocked_until[ip] = now + block_seconds
        self.blocks.append(IpBlock(ip, kind, now, now + block_seconds))
        return False
