"""Where the backfill's phases report: a bar on a terminal, plain lines in a log, nothing with --quiet."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    pass


class Progress(Protocol):
    """Where the phases report; a bar on a terminal, plain lines in a log, nothing with --quiet."""

    def start(self, phase: str, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...
    def note(self, text: str) -> None: ...


class NoProgress:
    def start(self, phase: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class PlainProgress:
    """A line every `every` items (or `seconds`), for logs and pipes where a bar would be noise."""

    def __init__(self, stream: Any = None, *, every: int = 100, seconds: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.every = every
        self.seconds = seconds
        self.phase = ""
        self.total: int | None = None
        self.done = 0
        self._began = self._last_line = 0.0
        self._last_count = 0

    def start(self, phase: str, total: int | None = None) -> None:
        self.phase, self.total, self.done = phase, total, 0
        self._began = self._last_line = time.monotonic()
        self._last_count = 0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done - self._last_count >= self.every or now - self._last_line >= self.seconds:
            self._line(now)

    def finish(self) -> None:
        if self.phase and (self.done or self.total):
            self._line(time.monotonic(), final=True)
        self.phase, self.total, self.done = "", None, 0

    def note(self, text: str) -> None:
        print(f"[{self.phase or 'backfill'}] {text}", file=self.stream, flush=True)

    def _line(self, now: float, *, final: bool = False) -> None:
        self._last_line, self._last_count = now, self.done
        elapsed = max(now - self._began, 1e-9)
        rate = self.done / elapsed
        of = f"/{self.total}" if self.total is not None else ""
        tail = f" in {_duration(elapsed)}" if final else ""
        if not final and self.total and rate > 0:
            tail = f" ETA {_duration((self.total - self.done) / rate)}"
        print(f"[{self.phase}] {self.done}{of} {rate:.1f}/s{tail}", file=self.stream, flush=True)


class RichProgress:
    """rich's live bar (typer ships rich): description, bar, done/total, rate, ETA, elapsed."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:6.1f}/s" if speed else "     -/s")

        self.console = Console(stderr=True)
        self.bar = Bar(
            TextColumn("{task.description:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.bar.start()
        self.task: Any = None

    def start(self, phase: str, total: int | None = None) -> None:
        self.finish()
        self.task = self.bar.add_task(phase, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, n)

    def finish(self) -> None:
        if self.task is not None:
            task = self.bar.tasks[-1]
            self.bar.update(self.task, total=task.completed)
            self.bar.stop_task(self.task)
            self.task = None

    def note(self, text: str) -> None:
        self.bar.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.finish()
        self.bar.stop()


def make_progress(*, quiet: bool) -> Progress:
    if quiet:
        return NoProgress()
    if sys.stderr.isatty():
        try:
            return RichProgress()
        except ImportError:  # rich comes with typer, but is not our own dependency
            pass
    return PlainProgress()
