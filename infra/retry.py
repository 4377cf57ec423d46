"""One retry helper for the in-process retry loops (the bus retries a message through its delay queues).

A transient failure (`infra.errors.TransientError`) is retried up to `attempts` times in all; the
wait is the error's own `retry_after` when the provider said one (a 429's Retry-After), else the
caller's backoff for that attempt. Anything else, and the errors in `give_up_on`, raise at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from infra.errors import TransientError

T = TypeVar("T")


def doubling(base_seconds: float, cap_seconds: float = 30.0) -> Callable[[int], float]:
    """base, 2*base, 4*base, ... (attempt 1, 2, 3, ...), never above `cap_seconds`."""
    return lambda attempt: min(cap_seconds, base_seconds * 2 ** (attempt - 1))


def linear(step_seconds: float) -> Callable[[int], float]:
    """step, 2*step, 3*step, ... (attempt 1, 2, 3, ...)."""
    return lambda attempt: step_seconds * attempt


def retry_transient(
    call: Callable[[], T],
    *,
    attempts: int,
    backoff: Callable[[int], float],
    give_up_on: tuple[type[TransientError], ...] = (),
    on_retry: Callable[[TransientError, int, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, retried on a transient failure; `on_retry(error, attempt, delay)` before each wait."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except give_up_on:
            raise
        except TransientError as exc:
            if attempt >= attempts:
                raise
            delay = exc.retry_after or backoff(attempt)
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            sleep(delay)
    raise AssertionError("unreachable")
