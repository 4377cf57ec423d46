"""`auvo-bling console add-user`: the password comes from a prompt or stdin, never the command line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from auvo_bling.cli import app as cli
from auvo_bling.console.passwords import verify_password
from infra.errors import ConfigurationError
from infra.store import Store
from tests.ops_support import config_file_is_the_truth


@pytest.fixture(autouse=True)
def _config_file_is_the_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests load their own config file: CI's exported AMQP_URL / DATABASE_URL would win."""
    config_file_is_the_truth(monkeypatch)


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """A command configures structlog to print to the stream CliRunner swaps in and then closes:
    put back what the test had, or later log lines hit a closed file."""
    was = structlog.get_config() if structlog.is_configured() else None
    yield
    if was is None:
        structlog.reset_defaults()
    else:
        structlog.configure(**was)


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "auvo-bling.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path}/c.sqlite3"\nsecret_key = "k-for-tests"\n')
    return path


def test_add_user_reads_the_password_from_stdin_and_stores_only_a_hash(tmp_path: Path) -> None:
    config = _config(tmp_path)
    args = ["console", "add-user", "bia", "--role", "operator", "--password-stdin", "-c", str(config)]
    result = CliRunner().invoke(cli, args, input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "created (operator)" in result.output and "a long enough password" not in result.output
    store = Store(f"sqlite:///{tmp_path}/c.sqlite3")
    try:
        user = store.console_user("bia")
        assert user is not None and user.role == "operator"
        assert (
            user.password_hash.startswith("$argon2id$") and "a long enough password" not in user.password_hash
        )
        assert verify_password(user.password_hash, "a long enough password")
        assert not verify_password(user.password_hash, "another password")
    finally:
        store.dispose()


def test_add_user_refuses_a_short_password_an_unknown_role_and_a_password_option(tmp_path: Path) -> None:
    config = _config(tmp_path)
    short = CliRunner().invoke(
        cli,
        ["console", "add-user", "bia", "--role", "admin", "--password-stdin", "-c", str(config)],
        input="short\n",
    )
    assert isinstance(short.exception, ConfigurationError) and "at least 10" in str(short.exception)
    role = CliRunner().invoke(
        cli, ["console", "add-user", "bia", "--role", "root", "-c", str(config)], input="x" * 12
    )
    assert isinstance(role.exception, ConfigurationError) and "admin, operator, viewer" in str(role.exception)
    given = CliRunner().invoke(
        cli,
        ["console", "add-user", "bia", "--role", "admin", "--password", "secret123456", "-c", str(config)],
    )
    assert given.exit_code == 2  # no such option: a password never goes on the command line


def test_the_console_served_from_a_thread_answers_and_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    import httpx

    from auvo_bling.console_cli import start_in_background
    from infra.settings import load_settings

    settings = load_settings(_config(tmp_path))
    store = Store(settings.database_url)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        try:
            start_in_background(settings, store, None, "127.0.0.1", port)
            raise AssertionError("a port in use should be refused")
        except ConfigurationError as exc:
            assert f"cannot serve the console on 127.0.0.1:{port}" in str(exc)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        server = start_in_background(settings, store, None, "127.0.0.1", free)
        try:
            for _ in range(50):
                try:
                    answer = httpx.get(f"http://127.0.0.1:{free}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            assert answer.status_code == 200
            assert httpx.get(f"http://127.0.0.1:{free}/companies", follow_redirects=True).url.path == "/login"
        finally:
            server.should_exit = True
    finally:
        busy.close()
        store.dispose()
