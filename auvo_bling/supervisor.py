"""`consume --processes N`: N consumer processes on one machine, restarted if one dies.

Each child is a plain `auvo-bling consume` (same settings, same environment), so N processes
here behave exactly like N processes started by hand or by an orchestrator: they share the work
through the broker and the rate limits, locks and tokens through the store.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("supervisor")


def child_command(config: Path | None, threads: int) -> list[str]:
    command = [sys.executable, "-m", "auvo_bling.cli", "consume", "--threads", str(threads)]
    if config is not None:
        command += ["--config", str(config)]
    return command


def supervise(processes: int, config: Path | None, threads: int = 1, restart_delay: float = 1.0) -> int:
    """Run `processes` children until SIGINT/SIGTERM; a child that exits is started again."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("stopping consumers", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    command = child_command(config, threads)
    children = [subprocess.Popen(command) for _ in range(processes)]
    log.info("consumers started", processes=processes, pids=[c.pid for c in children])
    while not stop.wait(0.5):
        for i, child in enumerate(children):
            code = child.poll()
            if code is not None:
                log.warning("consumer exited; restarting", pid=child.pid, exit_code=code)
                time.sleep(restart_delay)
                children[i] = subprocess.Popen(command)
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0
