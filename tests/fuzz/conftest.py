"""The fuzz suite's fixtures and its figures at the end of the run (tests/fuzz/support.py has the rest).

`FUZZ_SCALE=10 pytest tests/fuzz` runs ten times the inputs, for a longer run by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from tests.fuzz.support import CRASHES, INPUTS, LogLines


@pytest.fixture(scope="module")
def log_lines() -> Iterator[LogLines]:
    saved = structlog.get_config()
    lines = LogLines()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, lines], cache_logger_on_first_use=False
    )
    try:
        yield lines
    finally:
        structlog.configure(**saved)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many generated inputs each parser met in this run, next to how many broke its rule."""
    if INPUTS:
        terminalreporter.section("fuzz figures")
        for parser in sorted(INPUTS):
            terminalreporter.write_line(
                f"FUZZ parser={parser} inputs={INPUTS[parser]} crashes={CRASHES[parser]}"
            )
