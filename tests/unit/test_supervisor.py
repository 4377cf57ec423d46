"""`consume --processes N`: restarts back off, a crash loop stops everything with its cause."""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from auvo_bling.supervisor import (
    CRASH_LOOP_EXIT_CODE,
    RestartPolicy,
    RestartRecord,
    child_command,
    supervise_commands,
)
from tests.ops_support import Cli

FAST = RestartPolicy(first_delay=0.2, max_delay=0.8, stable_seconds=60, max_restarts=4, window_seconds=60)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone once its /proc status says so
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


# --- the policy, on a clock we move by hand --------------------------------------------------


def test_the_delay_doubles_up_to_the_cap() -> None:
    record = RestartRecord(RestartPolicy(first_delay=1, max_delay=60, max_restarts=100, window_seconds=1e9))
    delays = [record.exited(float(t)) for t in range(9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_child_that_stayed_up_starts_again_from_the_first_delay() -> None:
    record = RestartRecord(RestartPolicy(first_delay=1, max_delay=60, stable_seconds=60, max_restarts=100))
    assert [record.exited(0), record.exited(1), record.exited(3)] == [1, 2, 4]
    record.still_up(up_since=7, now=66)  # 59 s up: not yet
    assert record.exited(66) == 8
    record.still_up(up_since=74, now=134)  # 60 s up: healthy again
    assert record.exited(134) == 1


def test_more_exits_than_max_restarts_within_the_window_is_a_crash_loop() -> None:
    record = RestartRecord(RestartPolicy(first_delay=1, max_restarts=3, window_seconds=100))
    assert record.exited(0) is not None
    assert record.exited(10) is not None
    assert record.exited(20) is not None
    assert record.exited(30) is None  # the 4th exit within 100 s


def test_exits_older_than_the_window_are_forgotten() -> None:
    record = RestartRecord(RestartPolicy(first_delay=1, max_restarts=3, window_seconds=100))
    for t in (0, 10, 20):
        assert record.exited(t) is not None
    assert record.exited(121) is not None  # 0 and 10 are more than 100 s ago: 2 exits in the window


# --- the children's command line ---------------------------------------------------------------


def test_each_child_gets_the_parents_flags_and_its_own_metrics_port() -> None:
    config = Path("/etc/auvo-bling.toml")
    commands = [
        child_command(config, 4, index=i, metrics_port=9101, metrics_host="0.0.0.0") for i in range(3)
    ]
    for i, command in enumerate(commands):
        assert command[:4] == [sys.executable, "-m", "auvo_bling.cli", "consume"]
        flags = dict(zip(command[4::2], command[5::2], strict=True))
        assert flags == {
            "--threads": "4",
            "--config": str(config),
            "--metrics-port": str(9101 + i),
            "--metrics-host": "0.0.0.0",
        }
    assert "--metrics-port" not in child_command(None, 1, index=1)  # no metrics asked, none served


# --- real child processes ----------------------------------------------------------------------


def test_a_dying_child_is_restarted_with_growing_delays(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    crasher = python(
        f"import sys, time; open({str(starts)!r}, 'a').write(f'{{time.time()}}\\n'); sys.exit(3)"
    )
    with capture_logs() as logs:
        code = supervise_commands([crasher], FAST, tick=0.02, stop_timeout=5)
    assert code == CRASH_LOOP_EXIT_CODE
    times = [float(line) for line in starts.read_text().split()]
    assert len(times) == 5  # the first start and max_restarts=4 restarts; the 5th exit gives up
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, delay in zip(gaps, [0.2, 0.4, 0.8, 0.8], strict=True):
        assert gap >= delay, gaps
    assert gaps[2] > gaps[0] + 0.4, gaps  # it grew (not a fixed one-second restart)
    restarts = [e for e in logs if e["event"] == "consumer exited; restarting"]
    assert [e["restart_in"] for e in restarts] == [0.2, 0.4, 0.8, 0.8]
    assert {e["exit_code"] for e in restarts} == {3}


def test_a_crash_loop_names_the_child_and_its_cause_and_stops_the_others(tmp_path: Path) -> None:
    crasher = python("import sys; print('Traceback: boom', file=sys.stderr); sys.exit(3)")
    healthy = python("import time; time.sleep(60)")
    with capture_logs() as logs:
        started = time.monotonic()
        code = supervise_commands([healthy, crasher], FAST, tick=0.02, stop_timeout=5)
    assert code == CRASH_LOOP_EXIT_CODE
    assert time.monotonic() - started < 20  # gave up; did not wait for the healthy child's 60 s
    [begun] = [e for e in logs if e["event"] == "consumers started"]
    [gave_up] = [e for e in logs if e["event"].startswith("consumer is crash-looping")]
    assert gave_up["child"] == 1 and gave_up["last_exit_code"] == 3
    assert gave_up["exits"] == 5 and gave_up["within_seconds"] >= 0.2 + 0.4 + 0.8 + 0.8
    assert gave_up["stderr_tail"] == ["Traceback: boom"]
    assert isinstance(gave_up["pid"], int)
    assert not alive(begun["pids"][0])  # the healthy one was stopped, not left behind


def test_a_child_refusing_its_configuration_ends_the_supervisor_at_once() -> None:
    """Exit 2 is `auvo-bling`'s bad-configuration exit: the same settings would fail again."""
    line = "auvo-bling: cannot serve metrics on 127.0.0.1:9101"
    refusing = python(f"import sys; print({line!r}, file=sys.stderr); sys.exit(2)")
    healthy = python("import time; time.sleep(60)")
    with capture_logs() as logs:
        started = time.monotonic()
        code = supervise_commands([healthy, refusing], FAST, tick=0.02, stop_timeout=5)
    assert code == CRASH_LOOP_EXIT_CODE
    assert time.monotonic() - started < 10
    assert not [e for e in logs if e["event"] == "consumer restarted"]  # not even once
    [gave_up] = [e for e in logs if e["event"].startswith("consumer refused its configuration")]
    assert gave_up["child"] == 1 and gave_up["exit_code"] == 2
    assert gave_up["stderr_tail"] == [line]


def test_a_stop_ends_every_child_and_exits_zero(tmp_path: Path) -> None:
    marker = tmp_path / "ran-once"
    # exits the first time (a blip), stays up once restarted
    # O_EXCL: both children start together, and a check-then-create let both see no marker and
    # both exit (two restarts, under load); only the one that creates the marker blips
    blip = python(
        f"import os, sys, time\n"
        f"try:\n"
        f"    os.close(os.open({str(marker)!r}, os.O_CREAT | os.O_EXCL)); sys.exit(1)\n"
        f"except FileExistsError:\n"
        f"    time.sleep(60)"
    )
    stop = threading.Event()
    with capture_logs() as logs:
        timer = threading.Timer(2.0, stop.set)
        timer.start()
        code = supervise_commands([blip, blip], FAST, stop=stop, tick=0.02, stop_timeout=5)
        timer.join()
    assert code == 0
    restarted = [e for e in logs if e["event"] == "consumer restarted"]
    assert len(restarted) == 1  # only the one that blipped
    assert not alive(restarted[0]["pid"])


@pytest.mark.parametrize("lines", [3, 40])
def test_stderr_passes_through_and_only_its_tail_is_kept(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], lines: int
) -> None:
    noisy = python(f"import sys\nfor i in range({lines}): print(f'line {{i}}', file=sys.stderr)\nsys.exit(5)")
    policy = RestartPolicy(first_delay=0.05, max_delay=0.05, max_restarts=0, window_seconds=60)
    with capture_logs() as logs:
        assert supervise_commands([noisy], policy, tick=0.02, stop_timeout=5) == CRASH_LOOP_EXIT_CODE
    [gave_up] = [e for e in logs if e["event"].startswith("consumer is crash-looping")]
    assert gave_up["stderr_tail"] == [f"line {i}" for i in range(max(0, lines - 10), lines)]
    assert f"line {lines - 1}" in capfd.readouterr().err  # nothing is hidden from our own stderr


def test_consume_processes_hands_its_flags_to_the_supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`consume --processes N` used to drop --metrics-port: every flag must reach the children."""
    import auvo_bling.supervisor as supervisor

    config = tmp_path / "auvo-bling.toml"
    config.write_text(
        f'secret_key = "k"\ndatabase_url = "sqlite:///{tmp_path / "s.sqlite3"}"\n'
        '[auvo]\napi_key = "k"\napi_token = "t"\n[bling]\nclient_id = "c"\nclient_secret = "s"\n',
        encoding="utf-8",
    )
    seen: dict[str, object] = {}

    def fake_supervise(processes: int, config: Path | None, threads: int = 1, **flags: object) -> int:
        seen.update(processes=processes, config=config, threads=threads, **flags)
        return 7

    monkeypatch.setattr(supervisor, "supervise", fake_supervise)
    args = [
        "consume",
        "--processes",
        "3",
        "--threads",
        "2",
        "--metrics-port",
        "9200",
        "--metrics-host",
        "0.0.0.0",
    ]
    result = Cli(config)(*args)
    assert result.exit_code == 7, result.output  # the supervisor's exit code is the command's
    assert seen == {
        "processes": 3,
        "config": config,
        "threads": 2,
        "metrics_port": 9200,
        "metrics_host": "0.0.0.0",
    }
