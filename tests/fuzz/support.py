"""The fuzz suite's shared parts: one hypothesis profile for CI, the tally of inputs tried per parser,
and the sink that keeps what the code under fuzz logged.

The profile is derandomized with no example database, so a CI run tries the same inputs every time
(a failure found once is found again on the next run, and on the developer's machine), with no
deadline (a 2-core machine shared with other jobs makes timings noise). `FUZZ_SCALE` multiplies
every test's example count for a longer run by hand (`FUZZ_SCALE=10 pytest tests/fuzz`).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import structlog
from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))

settings.register_profile(
    "fuzz-ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# parser -> inputs tried / inputs that escaped the rule (a crash fails its test, and is counted first)
INPUTS: Counter[str] = Counter()
CRASHES: Counter[str] = Counter()


def fuzz_settings(examples: int) -> settings:
    """The CI profile with `examples` generated inputs (times FUZZ_SCALE)."""
    return settings(settings.get_profile("fuzz-ci"), max_examples=max(1, int(examples * SCALE)))


class LogLines:
    """What the code under fuzz logged, kept as text for the secret check and dropped otherwise
    (tens of thousands of `webhook rejected` lines would bury the run's output and cost seconds)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> Any:
        self.lines.append(repr(event_dict))
        raise structlog.DropEvent

    def take(self) -> str:
        text = "\n".join(self.lines)
        self.lines.clear()
        return text
