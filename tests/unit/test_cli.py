"""The command line as a person meets it: bad settings are one line and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUVO_BLING_")}
    clean.pop("AMQP_URL", None)
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "auvo_bling.cli", *args],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"AUVO_BLING_CUSTOMERS__DIRECTION": "sideways"},
            "customers.direction [AUVO_BLING_CUSTOMERS__DIRECTION]: must be one of "
            "'auvo_to_bling', 'bling_to_auvo' or 'both' (got 'sideways')",
        ),
        ({"AUVO_BLING_TASKS__STATUS": "done"}, "tasks.status [AUVO_BLING_TASKS__STATUS]"),
        ({"AMQP_URL": "http://broker"}, "amqp_url [AMQP_URL]: Value error, must start with amqp://"),
        ({"AUVO_BLING_BUS__PREFETCH": "0"}, "bus.prefetch [AUVO_BLING_BUS__PREFETCH]"),
    ],
)
def test_invalid_setting_is_one_line_and_exit_2(env: dict[str, str], expected: str, tmp_path: object) -> None:
    result = run_cli("run", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_run_without_credentials_names_every_missing_setting() -> None:
    result = run_cli("run")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    for name in ("AUVO_BLING_AUVO__API_KEY", "AUVO_BLING_AUVO__API_TOKEN", "AUVO_BLING_BLING__CLIENT_ID"):
        assert name in line


def test_missing_config_file_is_exit_2(tmp_path: object) -> None:
    result = run_cli("run", "--config", "/nonexistent/auvo-bling.toml")
    assert result.returncode == 2
    assert "config file /nonexistent/auvo-bling.toml does not exist" in result.stderr


def test_secrets_do_not_appear_in_error_output() -> None:
    secret = "s3cr3t-token-value-that-must-not-leak"
    result = run_cli(
        "run",
        env={"AUVO_BLING_AUVO__API_TOKEN": secret, "AUVO_BLING_CUSTOMERS__DIRECTION": "nope"},
    )
    assert result.returncode == 2
    assert secret not in result.stderr + result.stdout


def test_check_exits_1_and_names_what_is_missing(tmp_path: object) -> None:
    result = run_cli("check", env={"DATABASE_URL": f"sqlite:///{tmp_path}/check.sqlite3"})
    assert result.returncode == 1
    assert "ok   broker" in result.stdout and "ok   database" in result.stdout
    assert "FAIL auvo      not configured: set auvo.api_key (AUVO_BLING_AUVO__API_KEY)" in result.stdout
    assert "ok   tenant    default active" in result.stdout
