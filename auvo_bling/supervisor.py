"""`consume --processes N`: N consumer processes on one machine, restarted if one dies.

Each child is a plain `auvo-bling consume` (same settings, same environment, the parent's
`--config`, `--threads` and `--metrics-host`, and `--metrics-port` + its index), so N processes
here behave exactly like N processes started by hand or by an orchestrator: they share the work
through the broker and the rate limits, locks and tokens through the store.

A child that exits is restarted after a delay that doubles on every exit (1 s up to 60 s) and
falls back to the first step once the child has stayed up for a while: a blip costs a second, a
broken deployment does not fork a process every second forever. A child that exits more than
`max_restarts` times within `window_seconds` is a crash loop: restarting it will not help, so the
supervisor says which child, how often, its last exit code and the last lines of its stderr,
stops the others and exits non-zero, for a person (or the orchestrator above) to act. A child
that exits 2 refused its configuration (a missing setting, a metrics port in use): the same
settings fail the same way, so that ends the supervisor at once, with the child's own line.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import structlog

from infra.logging import scrub

log = structlog.get_logger("supervisor")
CONFIGURATION_EXIT_CODE = 2  # what `auvo-bling` exits with on bad configuration (auvo_bling/cli.py)

CRASH_LOOP_EXIT_CODE = 1
STDERR_TAIL_LINES = 20


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before restarting a child, and when to stop trying."""

    first_delay: float = 1.0
    max_delay: float = 60.0
    # a child that stayed up this long is healthy again: its next restart waits `first_delay`
    stable_seconds: float = 60.0
    # more exits than this within `window_seconds` is a crash loop
    max_restarts: int = 5
    window_seconds: float = 300.0


@dataclass
class RestartRecord:
    """One child slot's restart history; pure (the caller passes the clock's readings)."""

    policy: RestartPolicy
    exits: deque[float] = field(default_factory=deque)
    next_delay: float | None = None

    def still_up(self, up_since: float, now: float) -> None:
        if now - up_since >= self.policy.stable_seconds:
            self.next_delay = None

    def exited(self, now: float) -> float | None:
        """The delay before the restart, or None: a crash loop, give up."""
        self.exits.append(now)
        while self.exits and now - self.exits[0] > self.policy.window_seconds:
            self.exits.popleft()
        if len(self.exits) > self.policy.max_restarts:
            return None
        delay = self.policy.first_delay if self.next_delay is None else self.next_delay
        self.next_delay = min(delay * 2, self.policy.max_delay)
        return delay


class Child:
    """One slot: its command, the process running in it (if any), and the tail of its stderr.

    stderr is read by a thread that passes every line through to ours (so nothing is hidden) and
    keeps the last lines, to say why a crash loop crashes.
    """

    def __init__(self, index: int, command: Sequence[str], policy: RestartPolicy) -> None:
        self.index = index
        self.command = list(command)
        self.record = RestartRecord(policy)
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.restart_at: float | None = None
        self.last_exit_code: int | None = None
        self.last_pid: int | None = None
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._reader: threading.Thread | None = None

    def start(self, now: float) -> None:
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE)
        self.last_pid = self.process.pid
        self.started_at = now
        self.restart_at = None
        self.tail.clear()
        assert self.process.stderr is not None
        self._reader = threading.Thread(
            target=_pass_through,
            args=(self.process.stderr, self.tail),
            name=f"stderr-{self.index}",
            daemon=True,
        )
        self._reader.start()

    def reap(self) -> int | None:
        """The exit code if the process ended (its stderr read to the end), else None."""
        if self.process is None:
            return None
        code = self.process.poll()
        if code is None:
            return None
        if self._reader is not None:
            self._reader.join(5)
        self.process = None
        self.last_exit_code = code
        return code

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self._reader is not None:
            self._reader.join(5)


def _pass_through(stream: IO[bytes], tail: deque[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        tail.append(scrub(line.rstrip("\n")))
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):  # our stderr is gone: keep draining, or the child blocks
            pass
    stream.close()


def child_command(
    config: Path | None,
    threads: int,
    *,
    index: int = 0,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
) -> list[str]:
    """The `consume` command of child `index`: the parent's flags, metrics on its own port."""
    command = [sys.executable, "-m", "auvo_bling.cli", "consume", "--threads", str(threads)]
    if config is not None:
        command += ["--config", str(config)]
    if metrics_port:
        command += ["--metrics-port", str(metrics_port + index)]
        if metrics_host is not None:
            command += ["--metrics-host", metrics_host]
    return command


def supervise(
    processes: int,
    config: Path | None,
    threads: int = 1,
    *,
    metrics_port: int | None = None,
    metrics_host: str | None = None,
    policy: RestartPolicy | None = None,
) -> int:
    """Run `processes` consumer children until SIGINT/SIGTERM (0) or a crash loop (non-zero)."""
    commands = [
        child_command(config, threads, index=i, metrics_port=metrics_port, metrics_host=metrics_host)
        for i in range(processes)
    ]
    return supervise_commands(commands, policy or RestartPolicy(), handle_signals=True)


def supervise_commands(
    commands: Sequence[Sequence[str]],
    policy: RestartPolicy,
    *,
    stop: threading.Event | None = None,
    handle_signals: bool = False,
    clock: Callable[[], float] = time.monotonic,
    tick: float = 0.5,
    stop_timeout: float = 30.0,
) -> int:
    """Keep one process per command running; the loop behind `supervise`, with its timing open."""
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}
    if handle_signals:

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("stopping consumers", signal=signal.Signals(signum).name)
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    children = [Child(i, command, policy) for i, command in enumerate(commands)]
    failed: Child | None = None
    try:
        for child in children:
            child.start(clock())
        log.info("consumers started", processes=len(children), pids=[c.last_pid for c in children])
        while failed is None and not stop.wait(tick):
            failed = _one_round(children, policy, clock())
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait_or_kill(stop_timeout)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0 if failed is None else CRASH_LOOP_EXIT_CODE


def _one_round(children: list[Child], policy: RestartPolicy, now: float) -> Child | None:
    """Restart what is due, note what exited; the child in a crash loop, if one is."""
    for child in children:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.start(now)
                log.info("consumer restarted", child=child.index, pid=child.last_pid)
            continue
        code = child.reap()
        if code is None:
            child.record.still_up(child.started_at, now)
            continue
        if code == CONFIGURATION_EXIT_CODE:
            log.error(
                "consumer refused its configuration; restarting cannot help, stopping the others",
                child=child.index,
                pid=child.last_pid,
                exit_code=code,
                stderr_tail=list(child.tail)[-10:],
            )
            return child
        delay = child.record.exited(now)
        if delay is None:
            exits = list(child.record.exits)
            log.error(
                "consumer is crash-looping; giving up and stopping the others",
                child=child.index,
                pid=child.last_pid,
                exits=len(exits),
                within_seconds=round(exits[-1] - exits[0], 1),
                last_exit_code=code,
                stderr_tail=list(child.tail)[-10:],
            )
            return child
        child.restart_at = now + delay
        log.warning(
            "consumer exited; restarting",
            child=child.index,
            pid=child.last_pid,
            exit_code=code,
            restart_in=round(delay, 2),
        )
    return None
